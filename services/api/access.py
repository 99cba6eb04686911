"""Who may use which route of the read API (DOMAIN §1, §9). What a role then sees is narrowed by its data scope in
the data layer: a CLB its own referrals and what follows from them, a provider its own trajectories; statistics for
anyone but the desk are the policy view (small cells suppressed, no per-school figures).

- desk: everything.
- clb: statistics, comparisons, report, ad hoc (its own referrals, policy view); its referrals' history; the live
  status of their trajectories and of the referrals themselves (L4).
- provider: the live views: its own load, waiting times (and waiting-time clocks) and trajectories.
- policy: statistics, comparisons, report, ad hoc (policy view).
- source_system: nothing here (it submits through the ingest).
- the audit trail (who read which pupil's history): the desk only.
"""

from __future__ import annotations

from core.access import PUBLIC, Rules, roles
from core.auth import Role

DESK, CLB, PROVIDER, POLICY = Role.desk, Role.clb, Role.provider, Role.policy
STATISTICS = roles(DESK, CLB, POLICY)

RULES: Rules = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/"): PUBLIC,  # the dashboard's page: no data, it calls the routes below with the user's token
    ("GET", "/v1/live/provider-load"): roles(DESK, PROVIDER),
    ("GET", "/v1/live/stream"): roles(DESK, PROVIDER),  # the live views pushed (SSE); the dispatch views: desk
    ("GET", "/v1/live/waiting-times"): roles(DESK, PROVIDER),
    ("GET", "/v1/live/trajectories/{trajectory_id}"): roles(DESK, CLB, PROVIDER),
    # From the warehouse (routes/live_operations.py): L3 clocks for the desk and each provider's own waits; L4 a
    # referral's status for its referrer and the desk (a provider follows its trajectories above); L5 the desk only.
    ("GET", "/v1/live/waiting-clocks"): roles(DESK, PROVIDER),
    ("GET", "/v1/live/waiting-clocks/trend"): roles(DESK, PROVIDER),
    ("GET", "/v1/live/referrals"): roles(DESK, CLB),
    ("GET", "/v1/live/referrals/{referral_id}"): roles(DESK, CLB),
    ("GET", "/v1/live/completeness"): roles(DESK),
    ("GET", "/v1/referrals/{referral_id}/events"): roles(DESK, CLB),
    ("GET", "/v1/statistics"): STATISTICS,
    ("GET", "/v1/stats/{school_year}"): STATISTICS,
    ("GET", "/v1/stats/{school_year}/{statistic}"): STATISTICS,
    ("GET", "/v1/stats/{school_year}/referrals-per-month"): roles(DESK),  # the desk's dashboard chart, unsuppressed
    ("GET", "/v1/stats/compare/{statistic}"): STATISTICS,
    ("GET", "/v1/stats/comparisons/exclusions"): STATISTICS,
    ("POST", "/v1/stats/comparisons/exclusions"): STATISTICS,
    ("GET", "/v1/query/catalogue"): STATISTICS,
    ("POST", "/v1/query"): STATISTICS,
    ("GET", "/v1/reports/annual/{school_year}"): STATISTICS,
    ("GET", "/v1/audit"): roles(DESK),
    # The dispatch service's proposals and waiting lists (they name referrals): the desk, which decides.
    ("GET", "/v1/dispatch/proposals"): roles(DESK),
    ("GET", "/v1/dispatch/waiting-lists"): roles(DESK),
    ("GET", "/v1/dispatch/catalogue"): roles(DESK),
    ("GET", "/v1/dispatch/placements/{trajectory_id}"): roles(DESK),
}
