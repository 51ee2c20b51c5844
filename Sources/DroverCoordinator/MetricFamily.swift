import DroverCore

/// Every metric family the coordinator exports at `/metrics` (besides the HTTP ones that
/// Hummingbird's `MetricsMiddleware` records, see ``HTTPMetricNames``): its name, type, help
/// and labels. Labels are bounded sets only (team, state, outcome, resource, reason, result),
/// never job, attempt or node ids, so the number of series stays proportional to teams.
enum MetricFamily: String, CaseIterable, Sendable {
    // Gauges: computed from live state at scrape time (``MetricsSnapshot``).
    case jobs = "drover_jobs"
    case tasks = "drover_tasks"
    case pendingTasks = "drover_pending_tasks"
    case nodes = "drover_nodes"
    case nodeCapacity = "drover_node_capacity"
    case nodeAllocated = "drover_node_allocated"
    case quotaLimit = "drover_quota_limit"
    case quotaUsage = "drover_quota_usage"
    case teamDominantShare = "drover_team_dominant_share"
    case budgetSpend = "drover_budget_spend"
    case budgetLimit = "drover_budget_limit"
    case storeAvailable = "drover_store_available"
    // Counters and histograms: recorded where the event happens (``CoordinatorMetrics``).
    case attempts = "drover_attempts_total"
    case leases = "drover_leases_total"
    case costBooked = "drover_cost_booked_total"
    case admissionWait = "drover_admission_wait_seconds"
    case leaseRoundTrip = "drover_lease_round_trip_seconds"
    case storeCommitDuration = "drover_store_commit_duration_seconds"
    case storeCommitMutations = "drover_store_commit_mutations"
    case webhookDeliveries = "drover_webhook_deliveries_total"

    enum Kind: String, Sendable { case gauge, counter, histogram }

    var kind: Kind {
        switch self {
        case .attempts, .leases, .costBooked, .webhookDeliveries: .counter
        case .admissionWait, .leaseRoundTrip, .storeCommitDuration, .storeCommitMutations: .histogram
        default: .gauge
        }
    }

    var labels: [String] {
        switch self {
        case .jobs, .tasks: ["team", "state"]
        case .pendingTasks: ["team", "reason"]
        case .nodes: ["state"]
        case .nodeCapacity, .nodeAllocated: ["resource"]
        case .quotaLimit, .quotaUsage: ["team", "resource"]
        case .teamDominantShare, .budgetSpend, .budgetLimit, .leases, .costBooked, .admissionWait: ["team"]
        case .attempts: ["team", "outcome"]
        case .webhookDeliveries: ["result"]
        case .storeAvailable, .leaseRoundTrip, .storeCommitDuration, .storeCommitMutations: []
        }
    }

    var help: String {
        switch self {
        case .jobs: "Jobs by team and state (finished jobs included, as GET /v1/jobs lists them)"
        case .tasks: "Tasks by team and state, summed over the jobs' task counts"
        case .pendingTasks: "Queued tasks of live jobs by team and why they wait: capacity, constraints, quota, budget, backoff (dependency and gang are reserved)"
        case .nodes: "Nodes by state"
        case .nodeCapacity: "Capacity of the nodes not down, by resource (cpu in cores, memory in bytes, gpu)"
        case .nodeAllocated: "Resources held by running attempts on all nodes, by resource (cpu in cores, memory in bytes, gpu)"
        case .quotaLimit: "A team's quota limit by resource (cpu in cores, memory in bytes, gpu, tasks running); absent means unlimited"
        case .quotaUsage: "What a team holds by resource (cpu in cores, memory in bytes, gpu, tasks running)"
        case .teamDominantShare: "A team's weighted dominant share of the ready nodes (its largest fraction of any resource, over its weight): the fair-share order of leasing"
        case .budgetSpend: "A team's spend in its budget's current period, in the coordinator's currency"
        case .budgetLimit: "A team's budget for its current period, in the coordinator's currency"
        case .storeAvailable: "1 while the store takes writes, 0 while the coordinator refuses changes (503) until it has reloaded from the store"
        case .attempts: "Attempts ended, by team and outcome"
        case .leases: "Tasks leased to agents, by team"
        case .costBooked: "Cost booked to the ledger by team, in the coordinator's currency (corrections are not subtracted)"
        case .admissionWait: "Seconds from a job's submission to its first lease, by team"
        case .leaseRoundTrip: "Seconds from the lease decision of a poll or report to its answer, the commit included"
        case .storeCommitDuration: "Seconds one group commit of the journal took"
        case .storeCommitMutations: "Rows written by one group commit of the journal"
        case .webhookDeliveries: "Webhook delivery tries by result: delivered, rejected (answered but not 2xx), unreachable, timed_out"
        }
    }
}

/// Why queued tasks of a job are not running, in bounded words: the `reason` label of
/// `drover_pending_tasks`. `dependency` and `gang` are reserved for pipelines and gangs.
enum PendingCause: String, CaseIterable, Sendable {
    case capacity, constraints, quota, budget, backoff, dependency, gang
}

/// How a webhook delivery try ended: the `result` label of `drover_webhook_deliveries_total`.
public enum WebhookDeliveryResult: String, CaseIterable, Sendable {
    /// The receiver answered 2xx.
    case delivered
    /// The receiver answered, but not 2xx.
    case rejected
    /// No connection (refused, reset, no such host).
    case unreachable
    /// The receiver did not answer within the delivery timeout.
    case timedOut = "timed_out"
}

/// The `resource` label values.
enum MetricResource: String, CaseIterable, Sendable {
    case cpu, memory, gpu, tasks
}
