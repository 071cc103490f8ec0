"""The view beacon: signed product views reported by the shop's product page, stored in
shopcrm's own ``crm_view`` table (``signing`` checks a request, ``store`` records and reads views)."""
