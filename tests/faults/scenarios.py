"""The seventeen fault scenarios of sync-reliability-notes.md §7 and the tests that prove each.

A proof is a pytest node id without its parameters (`path::test_name`), so every parametrised
variant of it counts. Tests in tests/faults/ also carry `@pytest.mark.scenario(N)`; tests that
other areas wrote elsewhere are named here, so the table is the one place that answers "which test
shows that the connector survives X". `python -m tests.faults.summary` runs them all and prints
scenarios run, passed, and what was lost.
"""

from __future__ import annotations

from dataclasses import dataclass

PULL = "tests/contract/pull"
PUSH = "tests/contract/push/test_push_cycle.py"
FAULTS = "tests/faults"


@dataclass(frozen=True)
class Scenario:
    number: int
    fault: str
    expected: str
    proofs: tuple[str, ...]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(1, "429 with/without Retry-After; TEN_SECONDLY vs DAILY",
             "waits as told; DAILY stops the cycle, cursor kept; next run resumes", (
        f"{PULL}/test_pull_faults.py::test_transient_failures_are_retried_and_nothing_is_lost",
        f"{PULL}/test_pull_faults.py::test_daily_quota_stops_the_cycle_and_the_next_one_resumes",
        f"{PUSH}::test_429_storm_completes_without_errors_or_duplicates",
        f"{PUSH}::test_daily_quota_stops_one_crm_and_says_so",
        "tests/unit/crm/test_crm_retry.py::test_retryable_failures_are_retried_and_retry_after_is_honoured",
        f"{FAULTS}/test_storms.py::test_rate_limit_storm_on_a_whole_cycle",
    )),
    Scenario(2, "5xx bursts, including search",
             "capped backoff, then the cycle fails without advancing the cursor; next run completes", (
        f"{PULL}/test_pull_faults.py::test_transient_failures_are_retried_and_nothing_is_lost",
        "tests/unit/crm/test_crm_retry.py::test_attempts_are_capped_and_the_last_error_surfaces",
        f"{FAULTS}/test_storms.py::test_search_outage_fails_the_cycle_and_keeps_the_cursor",
    )),
    Scenario(3, "timeout on a write", "ambiguous; the retry reuses the key, no duplicate", (
        "tests/faults/test_push_crash.py::test_timeout_on_task_create_is_resolved_by_key_not_by_a_second_create",
        f"{FAULTS}/test_writes.py::test_salesforce_write_timeout_never_duplicates",
        f"{FAULTS}/test_writes.py::test_hubspot_clear_that_times_out_is_never_overtaken_by_its_set",
    )),
    Scenario(4, "partial batch failure (HubSpot numErrors, Salesforce allOrNone=false)",
             "successes committed, failures dead-lettered", (
        f"{PUSH}::test_per_record_failures_are_dead_lettered_and_only_they_are_retried",
        f"{FAULTS}/test_writes.py::test_salesforce_partial_failure_is_dead_lettered",
        f"{FAULTS}/test_push_partial.py::test_one_invalid_value_is_isolated_and_the_rest_of_the_batch_lands",
    )),
    Scenario(5, "kill -9 mid-pull, mid-push, between CRM 2xx and local commit",
             "restart: nothing lost, no duplicate tasks, integrity_check ok", (
        f"{PULL}/test_pull_resume.py::test_kill_between_pages_resumes_without_loss_or_duplicate_versions",
        "tests/faults/test_push_crash.py::test_kill_9_then_restart_converges_with_no_duplicates",
        f"{FAULTS}/test_kill_random.py::test_kill_9_at_random_points",
    )),
    Scenario(6, "overlapping runs, two processes", "the second exits with no side effects", (
        "tests/e2e/test_lease_e2e.py::test_second_daemon_is_refused_then_queues_and_never_overlaps",
        "tests/unit/daemon/test_lease.py::test_second_process_is_refused_with_the_holders_pid",
        "tests/unit/daemon/test_lease.py::test_kill_9_frees_the_lease_at_once",
    )),
    Scenario(7, "same input run twice", "the second run makes 0 writes", (
        f"{PUSH}::test_cycle_writes_once_and_a_second_cycle_writes_nothing",
    )),
    Scenario(8, ">10k changes; 10,001 records on one timestamp", "all fetched once; no loop", (
        f"{PULL}/test_pull_hubspot.py::test_ten_thousand_and_one_records_on_one_timestamp_are_fetched_exactly_once",
        f"{PULL}/test_pull_salesforce.py::test_ties_on_one_system_modstamp_page_through_the_compound_cursor",
    )),
    Scenario(9, "record updated during paging; index lag", "caught by the lookback next run", (
        f"{PULL}/test_pull_hubspot.py::test_a_record_edited_during_paging_is_caught_by_the_next_cycle",
        f"{PULL}/test_pull_hubspot.py::test_a_record_indexed_late_is_caught_by_the_lookback",
    )),
    Scenario(10, "token expires on call N", "one refresh, request replayed; token never logged", (
        f"{PULL}/test_pull_faults.py::test_expired_hubspot_oauth_token_is_refreshed_once_and_never_logged",
        f"{PULL}/test_pull_faults.py::test_expired_salesforce_session_logs_in_again_once",
        "tests/faults/test_push_auth.py::test_expired_tokens_mid_push_are_refreshed_once_and_never_stored",
    )),
    Scenario(11, "clock skew ±10 min, non-UTC host", "cursor from server time; UTC Z; nothing missed", (
        "tests/unit/crm/test_crm_soql.py::test_datetime_literals_are_utc_z",
        f"{FAULTS}/test_clock.py::test_skewed_clock_misses_nothing",
        f"{FAULTS}/test_clock.py::test_non_utc_host_misses_nothing",
    )),
    Scenario(12, "deleted, archived or merged records", "tombstoned; 404 on a write dead-letters", (
        f"{PULL}/test_pull_hubspot.py::test_archive_and_merge_are_reflected",
        f"{PULL}/test_pull_salesforce.py::test_deletion_and_lead_conversion_are_followed",
        f"{PUSH}::test_per_record_failures_are_dead_lettered_and_only_they_are_retried",
        f"{FAULTS}/test_writes.py::test_salesforce_partial_failure_is_dead_lettered",
    )),
    Scenario(13, "malformed records (null email, unknown stage, bad UTF-8, huge strings)",
             "record skipped and logged; the run continues", (
        "tests/unit/rules/test_properties.py::test_arbitrary_text_never_raises",
        "tests/unit/rules/test_engine.py::test_skipped_names_record_and_field",
        f"{FAULTS}/test_malformed.py::test_malformed_records_do_not_stop_the_cycle",
    )),
    Scenario(14, "hostile config and SOQL injection in values", "rejected at load; no execution; escaped", (
        "tests/unit/rules/test_validate.py::test_hostile_files_are_refused_before_anything_runs",
        "tests/unit/crm/test_crm_soql.py::test_unknown_or_hostile_field_names_are_config_errors",
        "tests/unit/crm/test_crm_soql.py::test_resume_value_is_escaped_not_spliced",
        "tests/contract/salesforce/test_soql_parser.py::test_malformed_input_is_refused",
        f"{FAULTS}/test_malformed.py::test_soql_injection_in_field_values_is_inert",
    )),
    Scenario(15, "quota above 80%", "pre-flight stops the run", (
        f"{PUSH}::test_usage_past_the_share_stops_before_writing",
        f"{PULL}/test_pull_faults.py::test_salesforce_request_limit_exceeded_is_quota_not_retried",
    )),
    Scenario(16, "disk full or SQLite locked", "rollback; no CRM write without a committed outbox row", (
        f"{FAULTS}/test_storage.py::test_locked_database_writes_nothing_to_a_crm",
        f"{FAULTS}/test_storage.py::test_full_disk_writes_nothing_without_an_outbox_row",
    )),
    Scenario(17, "interleavings of the above",
             "final CRM state = rules(source); keys unique; cursor <= committed", (
        f"{FAULTS}/test_kill_random.py::test_kill_9_at_random_points",
        f"{FAULTS}/test_kill_random.py::test_faults_interleaved_with_work_converge",
    )),
)  # fmt: skip


def scenarios_of(nodeid: str, marked: int | None = None) -> set[int]:
    """The scenarios a test node proves: by its marker, or by the table."""
    base = nodeid.split("[", 1)[0]
    found = {s.number for s in SCENARIOS if base in s.proofs}
    if marked is not None:
        found.add(marked)
    return found


def all_proofs() -> list[str]:
    return sorted({p for s in SCENARIOS for p in s.proofs})
