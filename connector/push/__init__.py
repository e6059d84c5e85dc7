"""Push: decisions -> keyed outbox rows -> batched, audited, idempotent CRM writes.

`planner` turns decisions into `PlannedWrite`s (pure), `relay` drains the outbox through one
writer per CRM (`hubspot_writer`, `salesforce_writer`), and `conflicts` decides, from the mirror
alone, whether a write would clobber a human edit or merely repeat what the CRM already holds.
"""
