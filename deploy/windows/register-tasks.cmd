@echo off
rem Creates shopcrm's scheduled tasks, on the same schedule as deploy/cron/shopcrm.
rem Run it once from an Administrator command prompt:  C:\shopcrm\app\deploy\windows\register-tasks.cmd
rem The tasks run as SYSTEM, which can read C:\shopcrm; to use another account, replace
rem "/RU SYSTEM" with "/RU DOMAIN\user /RP" (it asks for the password).
rem Tasks made by schtasks never start a second instance while one still runs.
rem Remove them with:  schtasks /Delete /TN "shopcrm\send" /F   (and triggers, run-queued, segment)
setlocal
set "JOB=%~dp0shopcrm-job.cmd"
schtasks /Create /F /TN "shopcrm\send" /SC MINUTE /MO 1 /RU SYSTEM /TR "\"%JOB%\" send" || exit /b 1
schtasks /Create /F /TN "shopcrm\triggers" /SC MINUTE /MO 5 /RU SYSTEM /TR "\"%JOB%\" triggers run" || exit /b 1
schtasks /Create /F /TN "shopcrm\run-queued" /SC MINUTE /MO 5 /RU SYSTEM /TR "\"%JOB%\" run-queued" || exit /b 1
schtasks /Create /F /TN "shopcrm\segment" /SC DAILY /ST 03:17 /RU SYSTEM /TR "\"%JOB%\" segment" || exit /b 1
echo Created the tasks shopcrm\send, shopcrm\triggers, shopcrm\run-queued and shopcrm\segment (Task Scheduler Library, folder shopcrm).
