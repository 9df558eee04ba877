"""References checked once a statement by triggers instead of by foreign-key constraints.

A foreign key checks each inserted row at commit: one queued trigger event, one SPI query
and one row lock per row and per key column, null or not.  The set-based writers (the
December pool batch, ``import_payments``, the roster import) insert hundreds of thousands of
rows a transaction; their checks were a measured part of the database server's CPU
(bench/RESULTS.md).  The checks here are as strict as the constraint's, under READ COMMITTED
(the project's isolation):

- **referencing side, insert** (``core_check_references``, AFTER INSERT, FOR EACH
  STATEMENT, the statement's rows as the transition table ``new_rows``): the distinct keys
  the statement names are looked up one by one through the referenced key's index (a
  ``LATERAL`` probe, so the plan never turns into a scan of a big table) and locked ``FOR
  KEY SHARE`` in key order — the lock a foreign key's check takes, so a concurrent delete of
  a referenced row waits for this transaction, and a row deleted meanwhile is missing; a
  missing key fails the statement with SQLSTATE 23503 (``foreign_key_violation``: Django's
  ``IntegrityError``, as before);
- **referencing side, key change** (``core_check_reference_row``, AFTER UPDATE OF the
  column, FOR EACH ROW, only when the column really changes): the same probe and lock for
  the one new key — nothing at all on the updates that leave the column alone;
- **referenced side, delete** (``core_check_referenced``, AFTER DELETE, FOR EACH STATEMENT,
  ``old_rows``): a deleted key still named fails the same way;
- **referenced side, key change** (``core_check_key_kept``, BEFORE UPDATE OF the key, FOR
  EACH ROW, only when the key really changes): a key still named cannot change.  A
  row-level trigger with a column list costs nothing on the updates that do not set the key
  — the enrollments' paid-columns update of a million rows included — where a statement
  trigger with transition tables would probe every updated row.

Not covered, unlike a constraint: TRUNCATE of a referenced table alone (Django's flush
truncates all tables at once) and triggers disabled by ``ALTER TABLE … DISABLE TRIGGER
USER``.  ``core/tests/test_db_references.py`` proves each case.

The functions are created by core's migration 0005; each app's migration adds its
triggers with :func:`reference_triggers`.  (subsidies 0007 has its own copy of the first
two, from before they moved here.)
"""

from __future__ import annotations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION core_check_references() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Arguments: (column, referenced table, referenced column) three at a time.
DECLARE
  i int := 0;
  missing text;
BEGIN
  WHILE i < TG_NARGS LOOP
    EXECUTE format(
      'SELECT n.k::text FROM (SELECT DISTINCT %1$I AS k FROM new_rows WHERE %1$I IS NOT NULL ORDER BY 1) n '
      'LEFT JOIN LATERAL (SELECT 1 AS hit FROM %2$I r WHERE r.%3$I = n.k FOR KEY SHARE OF r) f ON true '
      'WHERE f.hit IS NULL LIMIT 1',
      TG_ARGV[i], TG_ARGV[i + 1], TG_ARGV[i + 2]) INTO missing;
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'insert or update on table "%" violates the reference of "%"', TG_TABLE_NAME, TG_ARGV[i]
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('Key (%s)=(%s) is not present in table "%s".', TG_ARGV[i], missing, TG_ARGV[i + 1]);
    END IF;
    i := i + 3;
  END LOOP;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION core_check_referenced() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Arguments: the key column of this table, then (referencing table, column) two at a time.
DECLARE
  i int := 1;
  named text;
BEGIN
  WHILE i < TG_NARGS LOOP
    EXECUTE format(
      'SELECT x.%3$I::text FROM %2$I x WHERE x.%3$I IN (SELECT o.%1$I FROM old_rows o '
      'WHERE NOT EXISTS (SELECT 1 FROM %4$I t WHERE t.%1$I = o.%1$I)) LIMIT 1',
      TG_ARGV[0], TG_ARGV[i], TG_ARGV[i + 1], TG_TABLE_NAME) INTO named;
    IF named IS NOT NULL THEN
      RAISE EXCEPTION 'update or delete on table "%" violates the reference of "%" from table "%"',
        TG_TABLE_NAME, TG_ARGV[i + 1], TG_ARGV[i]
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".', TG_ARGV[0], named, TG_ARGV[i]);
    END IF;
    i := i + 2;
  END LOOP;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION core_check_key_kept() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Arguments: the key column of this table, then (referencing table, column) two at a time.
DECLARE
  i int := 1;
  named boolean;
BEGIN
  WHILE i < TG_NARGS LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %1$I x WHERE x.%2$I = ($1).%3$I)', TG_ARGV[i], TG_ARGV[i + 1],
                   TG_ARGV[0]) INTO named USING OLD;
    IF named THEN
      RAISE EXCEPTION 'update on table "%" violates the reference of "%" from table "%"',
        TG_TABLE_NAME, TG_ARGV[i + 1], TG_ARGV[i]
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".', TG_ARGV[0],
                              to_jsonb(OLD) ->> TG_ARGV[0], TG_ARGV[i]);
    END IF;
    i := i + 2;
  END LOOP;
  RETURN NEW;
END
$fn$;
"""

FUNCTIONS += r"""
CREATE OR REPLACE FUNCTION core_check_reference_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
-- Arguments: column, referenced table, referenced column.
DECLARE
  found boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %2$I r WHERE r.%3$I = ($1).%1$I FOR KEY SHARE OF r)',
                 TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]) INTO found USING NEW;
  IF NOT found AND to_jsonb(NEW) ->> TG_ARGV[0] IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" violates the reference of "%"', TG_TABLE_NAME, TG_ARGV[0]
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('Key (%s)=(%s) is not present in table "%s".', TG_ARGV[0],
                            to_jsonb(NEW) ->> TG_ARGV[0], TG_ARGV[1]);
  END IF;
  RETURN NULL;
END
$fn$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS core_check_reference_row();
DROP FUNCTION IF EXISTS core_check_references();
DROP FUNCTION IF EXISTS core_check_referenced();
DROP FUNCTION IF EXISTS core_check_key_kept();
"""


def _args(*values: str) -> str:
    return ", ".join(f"'{v}'" for v in values)


def reference_triggers(prefix: str, references: list[tuple[str, str, str, str]]) -> tuple[str, str]:
    """SQL creating (and dropping) the triggers that check ``references``: tuples
    ``(table, column, referenced table, referenced column)``.  ``prefix`` names the
    triggers (one app's set; another app's triggers on the same tables keep theirs)."""
    create, drop = [], []
    by_table: dict[str, list[str]] = {}
    by_referenced: dict[tuple[str, str], list[str]] = {}
    for table, column, ref_table, ref_column in references:
        by_table.setdefault(table, []).extend((column, ref_table, ref_column))
        by_referenced.setdefault((ref_table, ref_column), []).extend((table, column))
    for table, args in by_table.items():
        name = f"{prefix}_refs_insert"
        create.append(f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                      f"FOR EACH STATEMENT EXECUTE FUNCTION core_check_references({_args(*args)});")
        drop.append(f"DROP TRIGGER IF EXISTS {name} ON {table};")
    for table, column, ref_table, ref_column in references:
        name = f"{prefix}_ref_{column}"
        create.append(f"CREATE TRIGGER {name} AFTER UPDATE OF {column} ON {table} FOR EACH ROW "
                      f"WHEN (OLD.{column} IS DISTINCT FROM NEW.{column}) "
                      f"EXECUTE FUNCTION core_check_reference_row({_args(column, ref_table, ref_column)});")
        drop.append(f"DROP TRIGGER IF EXISTS {name} ON {table};")
    for (ref_table, key), args in by_referenced.items():
        name = f"{prefix}_referenced_{key}_delete"
        create.append(f"CREATE TRIGGER {name} AFTER DELETE ON {ref_table} REFERENCING OLD TABLE AS old_rows "
                      f"FOR EACH STATEMENT EXECUTE FUNCTION core_check_referenced({_args(key, *args)});")
        drop.append(f"DROP TRIGGER IF EXISTS {name} ON {ref_table};")
        name = f"{prefix}_keep_{key}"
        create.append(f"CREATE TRIGGER {name} BEFORE UPDATE OF {key} ON {ref_table} FOR EACH ROW "
                      f"WHEN (OLD.{key} IS DISTINCT FROM NEW.{key}) "
                      f"EXECUTE FUNCTION core_check_key_kept({_args(key, *args)});")
        drop.append(f"DROP TRIGGER IF EXISTS {name} ON {ref_table};")
    return "\n".join(create), "\n".join(drop)
