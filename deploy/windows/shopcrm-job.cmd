@echo off
rem Runs one `flask shopcrm` command for Windows Task Scheduler: from the shopcrm folder, with
rem the virtualenv's flask, its output appended to <logs>\<command>.log between time stamps.
rem   shopcrm-job.cmd send          shopcrm-job.cmd segment
rem Folders (defaults for the layout in docs\DEPLOY.md; set the variables to change them):
rem   SHOPCRM_ROOT     the shopcrm folder, two levels above this file   (C:\shopcrm\app)
rem   SHOPCRM_VENV     the virtualenv, "venv" next to it                 (C:\shopcrm\venv)
rem   SHOPCRM_LOG_DIR  the job logs, "logs" next to it                   (C:\shopcrm\logs)
rem Runs never overlap: the tasks are created with "do not start a new instance"
rem (register-tasks.cmd), and the commands take their own locks in shopcrm's database.
setlocal EnableExtensions
if "%~1"=="" (
  echo usage: %~nx0 COMMAND [ARGS...]   ^(a flask shopcrm command: segment, send, triggers^) 1>&2
  exit /b 2
)
set "JOB=%~1"
if not defined SHOPCRM_ROOT for %%I in ("%~dp0..\..") do set "SHOPCRM_ROOT=%%~fI"
if not defined SHOPCRM_VENV for %%I in ("%SHOPCRM_ROOT%\..\venv") do set "SHOPCRM_VENV=%%~fI"
if not defined SHOPCRM_LOG_DIR for %%I in ("%SHOPCRM_ROOT%\..\logs") do set "SHOPCRM_LOG_DIR=%%~fI"
if not exist "%SHOPCRM_LOG_DIR%" mkdir "%SHOPCRM_LOG_DIR%"
set "LOG=%SHOPCRM_LOG_DIR%\%JOB%.log"
rem Python writes UTF-8 to the log whatever the console's code page.
set "PYTHONUTF8=1"
cd /d "%SHOPCRM_ROOT%" || exit /b 1
>>"%LOG%" echo %DATE% %TIME% started: flask shopcrm %*
"%SHOPCRM_VENV%\Scripts\flask.exe" --app wsgi shopcrm %* >>"%LOG%" 2>&1
set "STATUS=%ERRORLEVEL%"
>>"%LOG%" echo %DATE% %TIME% finished: exit %STATUS%
exit /b %STATUS%
