"""Room on each page of family_pool_employeeaccount for one new version of every row on it
(fillfactor 50): the December batch moves the balances of a chunk's accounts — consecutive
ids, so every row of a page — by one UPDATE in one transaction.  The balances are in no
index, so with room on its page PostgreSQL writes the new version in place (a HOT update)
instead of adding an entry to each of the table's three indexes; at the default fillfactor
(100) almost none were (141 of 35,625 at 1,000,000 members; 27 buffers touched a row;
bench/RESULTS.md).  A page holds about 25 accounts instead of 50: some 30 MB more at
400,000 accounts.  Pages written before this keep their layout until rewritten."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("family_pool", "0004_references_checked_by_statement")]

    operations = [
        migrations.RunSQL("ALTER TABLE family_pool_employeeaccount SET (fillfactor = 50)",
                          "ALTER TABLE family_pool_employeeaccount RESET (fillfactor)"),
    ]
