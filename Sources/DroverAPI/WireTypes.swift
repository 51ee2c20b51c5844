import Foundation

// The JSON bodies of the /v1 API. Field names are part of the user-facing contract.

/// Counts of a job's tasks by state.
public struct TaskCounts: Codable, Hashable, Sendable {
    public var total, queued, running, succeeded, failed, cancelled: Int
    public init(total: Int, queued: Int, running: Int, succeeded: Int, failed: Int, cancelled: Int) {
        (self.total, self.queued, self.running, self.succeeded, self.failed, self.cancelled) = (total, queued, running, succeeded, failed, cancelled)
    }
}

/// Resources as shown to people: cores, bytes, GPUs.
public struct ResourcesView: Codable, Hashable, Sendable {
    public var cpu: Double
    public var memory: Int64
    public var gpu: Int
    public init(cpu: Double, memory: Int64, gpu: Int) {
        (self.cpu, self.memory, self.gpu) = (cpu, memory, gpu)
    }
}

/// A job, as `GET /v1/jobs/{id}` returns it (attempts and events only there).
public struct JobView: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var team: String
    public var kind: String
    public var state: String
    public var priority: Int
    public var tasks: TaskCounts
    public var command: [String]
    /// The job's environment; values of secret variables are replaced by `***`.
    public var env: [String: String]?
    public var resources: ResourcesView
    public var submittedAt: String
    public var startedAt: String?
    public var endedAt: String?
    public var submittedBy: String
    public var reason: String?
    /// Why queued tasks are not running, when some are.
    public var pendingReason: String?
    /// Total cost of the job's attempts so far, in the rates' currency.
    public var cost: Decimal
    /// The part of `cost` spent on attempts that did not succeed (failed, lost, timed out, preempted, cancelled).
    public var costWasted: Decimal?
    /// Currency code of `cost`.
    public var currency: String?
    /// Latest progress of running tasks (training jobs: the one task's).
    public var progress: JSONValue?
    public var attempts: [AttemptView]?
    public var events: [EventView]?
    public var eventsTotal: Int?

    public init(id: String, name: String, team: String, kind: String, state: String, priority: Int, tasks: TaskCounts,
                command: [String], resources: ResourcesView, submittedAt: String, startedAt: String?, endedAt: String?,
                submittedBy: String, reason: String?, pendingReason: String?, cost: Decimal, progress: JSONValue?,
                attempts: [AttemptView]? = nil, events: [EventView]? = nil, eventsTotal: Int? = nil) {
        self.id = id
        self.name = name
        self.team = team
        self.kind = kind
        self.state = state
        self.priority = priority
        self.tasks = tasks
        self.command = command
        self.resources = resources
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.submittedBy = submittedBy
        self.reason = reason
        self.pendingReason = pendingReason
        self.cost = cost
        self.progress = progress
        self.attempts = attempts
        self.events = events
        self.eventsTotal = eventsTotal
    }

    public var isFinished: Bool { ["succeeded", "failed", "cancelled"].contains(state) }
}

/// One attempt of one task.
public struct AttemptView: Codable, Hashable, Sendable {
    /// The attempt id, which is also its fencing token.
    public var id: String
    public var task: Int
    public var attempt: Int
    public var node: String
    public var outcome: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var startedAt: String
    public var endedAt: String?
    public var peakRssBytes: Int64?
    public var cost: Decimal
    public var gpus: [Int]
    public var progress: JSONValue?
    public var reason: String?

    public init(id: String, task: Int, attempt: Int, node: String, outcome: String, exitCode: Int32?, signal: Int32?, startedAt: String,
                endedAt: String?, peakRssBytes: Int64?, cost: Decimal, gpus: [Int], progress: JSONValue?, reason: String?) {
        self.id = id
        self.task = task
        self.attempt = attempt
        self.node = node
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.peakRssBytes = peakRssBytes
        self.cost = cost
        self.gpus = gpus
        self.progress = progress
        self.reason = reason
    }
}

/// One entry of the audit trail.
public struct EventView: Codable, Hashable, Sendable {
    public var at: String
    public var subject: String
    public var from: String?
    public var to: String
    public var reason: String
    public var actor: String
    public init(at: String, subject: String, from: String?, to: String, reason: String, actor: String) {
        (self.at, self.subject, self.from, self.to, self.reason, self.actor) = (at, subject, from, to, reason, actor)
    }
}

/// A registered agent machine.
public struct NodeView: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var state: String
    public var labels: [String: String]
    public var capacity: ResourcesView
    public var allocated: ResourcesView
    public var free: ResourcesView
    public var gpuIndices: [Int]
    public var runningTasks: Int
    public var lastHeartbeat: String
    public var registeredAt: String
    /// When a draining node's remaining tasks are requeued.
    public var drainDeadline: String?
    /// Hourly rates in force on the node.
    public var prices: PriceRates?
    public init(id: String, name: String, state: String, labels: [String: String], capacity: ResourcesView, allocated: ResourcesView,
                free: ResourcesView, gpuIndices: [Int], runningTasks: Int, lastHeartbeat: String, registeredAt: String) {
        self.id = id
        self.name = name
        self.state = state
        self.labels = labels
        self.capacity = capacity
        self.allocated = allocated
        self.free = free
        self.gpuIndices = gpuIndices
        self.runningTasks = runningTasks
        self.lastHeartbeat = lastHeartbeat
        self.registeredAt = registeredAt
    }
}

// MARK: - Agent protocol

/// `POST /v1/agents/register`, authenticated with the join token.
public struct RegisterRequest: Codable, Hashable, Sendable {
    public var name: String
    public var cpu: Double
    public var memory: Int64
    public var gpus: [GPUInfo]
    public var labels: [String: String]
    public var prices: PriceRates

    public init(name: String, cpu: Double, memory: Int64, gpus: [GPUInfo], labels: [String: String], prices: PriceRates) {
        (self.name, self.cpu, self.memory, self.gpus, self.labels, self.prices) = (name, cpu, memory, gpus, labels, prices)
    }
}

/// A GPU an agent offers.
public struct GPUInfo: Codable, Hashable, Sendable {
    public var index: Int
    public var name: String
    public var memoryMiB: Int?
    public init(index: Int, name: String, memoryMiB: Int?) {
        (self.index, self.name, self.memoryMiB) = (index, name, memoryMiB)
    }
}

/// Hourly prices in the cluster's currency.
public struct PriceRates: Codable, Hashable, Sendable {
    public var cpuHour: Decimal
    public var memoryGiBHour: Decimal
    public var gpuHour: Decimal
    public init(cpuHour: Decimal = 0, memoryGiBHour: Decimal = 0, gpuHour: Decimal = 0) {
        (self.cpuHour, self.memoryGiBHour, self.gpuHour) = (cpuHour, memoryGiBHour, gpuHour)
    }
}

/// The answer to a registration: the agent's own identity and token.
public struct RegisterResponse: Codable, Hashable, Sendable {
    public var nodeId: String
    public var token: String
    public var heartbeatIntervalMs: Int64
    public var leaseTtlMs: Int64
    public init(nodeId: String, token: String, heartbeatIntervalMs: Int64, leaseTtlMs: Int64) {
        (self.nodeId, self.token, self.heartbeatIntervalMs, self.leaseTtlMs) = (nodeId, token, heartbeatIntervalMs, leaseTtlMs)
    }
}

/// `POST /v1/agents/poll`: a long poll for new leases and cancellations.
public struct PollRequest: Codable, Hashable, Sendable {
    /// Most leases to hand out in one answer.
    public var maxLeases: Int
    /// How long the coordinator may hold the request when it has nothing to give.
    public var waitMs: Int64
    public init(maxLeases: Int, waitMs: Int64) {
        (self.maxLeases, self.waitMs) = (maxLeases, waitMs)
    }
}

public struct PollResponse: Codable, Hashable, Sendable {
    public var leases: [LeaseView]
    /// Attempts of this agent to stop (their job was cancelled or failed).
    public var cancel: [String]
    public init(leases: [LeaseView], cancel: [String]) {
        (self.leases, self.cancel) = (leases, cancel)
    }
}

/// A task handed to an agent. `attemptId` is the fencing token every later write carries.
public struct LeaseView: Codable, Hashable, Sendable {
    public var attemptId: String
    public var jobId: String
    public var jobName: String
    public var team: String
    public var task: Int
    public var taskCount: Int
    public var attempt: Int
    public var command: [String]
    public var env: [String: String]
    public var resources: ResourcesView
    public var gpus: [Int]
    public var timeoutMs: Int64?
    /// Names of variables in `env` whose values the agent masks in shipped output.
    public var secretEnv: [String]?
    public init(attemptId: String, jobId: String, jobName: String, team: String, task: Int, taskCount: Int, attempt: Int, command: [String],
                env: [String: String], resources: ResourcesView, gpus: [Int], timeoutMs: Int64?, secretEnv: [String]? = nil) {
        self.secretEnv = secretEnv
        self.attemptId = attemptId
        self.jobId = jobId
        self.jobName = jobName
        self.team = team
        self.task = task
        self.taskCount = taskCount
        self.attempt = attempt
        self.command = command
        self.env = env
        self.resources = resources
        self.gpus = gpus
        self.timeoutMs = timeoutMs
    }
}

/// `POST /v1/agents/heartbeat`: the agent is alive and holds these attempts.
public struct HeartbeatRequest: Codable, Hashable, Sendable {
    public var attempts: [HeartbeatAttempt]
    public init(attempts: [HeartbeatAttempt]) { self.attempts = attempts }
}

public struct HeartbeatAttempt: Codable, Hashable, Sendable {
    public var attemptId: String
    /// The latest line the task wrote to `DROVER_PROGRESS_FILE`, if any.
    public var progress: JSONValue?
    public init(attemptId: String, progress: JSONValue?) {
        (self.attemptId, self.progress) = (attemptId, progress)
    }
}

public struct HeartbeatResponse: Codable, Hashable, Sendable {
    /// Attempts the coordinator does not hold as this agent's: kill them, do not report.
    public var unknown: [String]
    public var cancel: [String]
    public init(unknown: [String], cancel: [String]) {
        (self.unknown, self.cancel) = (unknown, cancel)
    }
}

/// `POST /v1/agents/reports`: attempts that ended.
public struct ReportBatch: Codable, Hashable, Sendable {
    public var reports: [ReportView]
    /// When set, the coordinator also leases up to this many tasks to the agent once the
    /// reports are committed (the capacity they freed), in the same commit, and answers them
    /// in `leases`: one round trip per finished task instead of a report and a poll.
    public var maxLeases: Int?
    public init(reports: [ReportView], maxLeases: Int? = nil) {
        self.reports = reports
        self.maxLeases = maxLeases
    }
}

public struct ReportView: Codable, Hashable, Sendable {
    public var attemptId: String
    /// succeeded | failed | timed_out | cancelled | preempted
    public var outcome: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var wallMs: Int64?
    public var peakRssBytes: Int64?
    public var progress: JSONValue?
    public var reason: String?
    public init(attemptId: String, outcome: String, exitCode: Int32?, signal: Int32?, wallMs: Int64?, peakRssBytes: Int64?,
                progress: JSONValue?, reason: String?) {
        self.attemptId = attemptId
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.wallMs = wallMs
        self.peakRssBytes = peakRssBytes
        self.progress = progress
        self.reason = reason
    }
}

public struct ReportResults: Codable, Hashable, Sendable {
    public var results: [ReportResultView]
    /// New leases for the agent, when the batch asked for them with `maxLeases`.
    public var leases: [LeaseView]?
    public init(results: [ReportResultView], leases: [LeaseView]? = nil) {
        self.results = results
        self.leases = leases
    }
}

/// What became of one report: `accepted`, `duplicate` (already committed the same way),
/// `stale` (the lease is gone: 409 semantics), `forbidden` (not this agent's attempt), `invalid`.
public struct ReportResultView: Codable, Hashable, Sendable {
    public var attemptId: String
    public var status: String
    public var detail: String?
    public init(attemptId: String, status: String, detail: String?) {
        (self.attemptId, self.status, self.detail) = (attemptId, status, detail)
    }
}

// MARK: - Quotas

/// A team's limits; absent means unlimited.
public struct QuotaLimits: Codable, Hashable, Sendable {
    public var cpu: Double?
    public var memory: Int64?
    public var gpu: Int?
    public var running: Int?
    public init(cpu: Double?, memory: Int64?, gpu: Int?, running: Int?) { (self.cpu, self.memory, self.gpu, self.running) = (cpu, memory, gpu, running) }
}

/// What a team holds or waits for.
public struct QuotaAmounts: Codable, Hashable, Sendable {
    public var cpu: Double
    public var memory: Int64
    public var gpu: Int
    /// Tasks (running, for `inUse`; queued, for `queued`).
    public var tasks: Int
    public init(cpu: Double, memory: Int64, gpu: Int, tasks: Int) { (self.cpu, self.memory, self.gpu, self.tasks) = (cpu, memory, gpu, tasks) }
}

/// `GET /v1/quotas`: limit, in use and queued demand of a team.
public struct QuotaView: Codable, Hashable, Sendable {
    public var team: String
    public var limit: QuotaLimits
    public var weight: Double
    /// Whether the limit is the team's own or the cluster default.
    public var isDefault: Bool
    public var inUse: QuotaAmounts
    public var queued: QuotaAmounts
    /// The team's money budget and its spend in the current period, if it has one.
    public var budget: BudgetView?
    public init(team: String, limit: QuotaLimits, weight: Double, isDefault: Bool, inUse: QuotaAmounts, queued: QuotaAmounts) {
        (self.team, self.limit, self.weight, self.isDefault, self.inUse, self.queued) = (team, limit, weight, isDefault, inUse, queued)
    }
}

// MARK: - Tokens

/// `POST /v1/tokens`.
public struct TokenCreateRequest: Codable, Hashable, Sendable {
    public var team: String
    /// submitter | reader
    public var role: String
    public init(team: String, role: String) { (self.team, self.role) = (team, role) }
}

/// A token without its secret.
public struct TokenView: Codable, Hashable, Sendable {
    public var id: String
    public var role: String
    public var team: String?
    public var createdAt: String
    public var createdBy: String
    public var revokedAt: String?
    public init(id: String, role: String, team: String?, createdAt: String, createdBy: String, revokedAt: String?) {
        (self.id, self.role, self.team, self.createdAt, self.createdBy, self.revokedAt) = (id, role, team, createdAt, createdBy, revokedAt)
    }
}

/// The answer to a token creation: the only time the secret is shown.
public struct TokenCreated: Codable, Hashable, Sendable {
    public var token: String
    public var info: TokenView
    public init(token: String, info: TokenView) { (self.token, self.info) = (token, info) }
}

/// RFC 9457 problem details, the body of every error response.
public struct ProblemDetails: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// The request field at fault, when there is one.
    public var field: String?

    public init(type: String = "about:blank", title: String, status: Int, detail: String, field: String? = nil) {
        (self.type, self.title, self.status, self.detail, self.field) = (type, title, status, detail, field)
    }

    public var description: String { field.map { "\($0): \(detail)" } ?? detail }
}

/// Timestamps on the wire: RFC 3339 with milliseconds, UTC.
public enum WireTime {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let plainStyle = Date.ISO8601FormatStyle(timeZone: .gmt)

    /// `2023-11-14T22:13:20.123Z`. The milliseconds are written from the integer: a Date
    /// (a Double of seconds) holds most millisecond instants only approximately, and the
    /// formatter truncates, so `.123` would often come out as `.122`.
    public static func format(milliseconds: Int64) -> String {
        var (seconds, millis) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        if millis < 0 { (seconds, millis) = (seconds - 1, millis + 1000) }
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(plainStyle)  // ends in "Z"
        let fraction = String(millis)
        return "\(whole.dropLast()).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)Z"
    }

    /// Parses an RFC 3339 timestamp, with or without fractional seconds.
    public static func parse(_ text: String) -> Int64? {
        guard let date = (try? style.parse(text)) ?? (try? plainStyle.parse(text)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}

// MARK: - Cost

/// A team's budget and where it stands in the current period.
public struct BudgetView: Codable, Hashable, Sendable {
    public var amount: Decimal
    /// `day`, `week` or `month` (calendar periods in UTC).
    public var period: String
    /// Percent of the budget at which an alert is raised.
    public var softPercent: Int
    /// Whether running attempts are stopped at 100 %.
    public var hardStop: Bool
    public var spent: Decimal
    public var remaining: Decimal
    /// First day of the current period and of the next (`2026-11-01`).
    public var periodStart: String
    public var resets: String
    public var currency: String
    public init(amount: Decimal, period: String, softPercent: Int, hardStop: Bool, spent: Decimal, remaining: Decimal, periodStart: String,
                resets: String, currency: String) {
        self.amount = amount
        self.period = period
        self.softPercent = softPercent
        self.hardStop = hardStop
        self.spent = spent
        self.remaining = remaining
        self.periodStart = periodStart
        self.resets = resets
        self.currency = currency
    }
}

/// One line of `GET /v1/cost`.
public struct CostLineView: Codable, Hashable, Sendable {
    /// Team name, job id, node id or day (`2026-11-26`), by the report's grouping; `total` for the sum.
    public var key: String
    /// Job or node name, when grouped by job or node.
    public var name: String?
    /// Team of a job, when grouped by job.
    public var team: String?
    /// Spent on attempts that succeeded.
    public var succeeded: Decimal
    /// Spent on attempts that failed, timed out, were lost, preempted or cancelled.
    public var wasted: Decimal
    /// Booked so far for attempts still running.
    public var running: Decimal
    public var total: Decimal
    public var attempts: Int
    public init(key: String, name: String? = nil, team: String? = nil, succeeded: Decimal, wasted: Decimal, running: Decimal, total: Decimal,
                attempts: Int) {
        self.key = key
        self.name = name
        self.team = team
        self.succeeded = succeeded
        self.wasted = wasted
        self.running = running
        self.total = total
        self.attempts = attempts
    }
}

/// `GET /v1/cost`: ledger totals over an interval, grouped.
public struct CostReportView: Codable, Hashable, Sendable {
    /// `team`, `job`, `node` or `day`.
    public var by: String
    /// The interval, RFC 3339; rows count by when they were booked.
    public var since: String
    public var until: String
    public var currency: String
    public var lines: [CostLineView]
    /// The sum of the lines.
    public var total: CostLineView
    public init(by: String, since: String, until: String, currency: String, lines: [CostLineView], total: CostLineView) {
        (self.by, self.since, self.until, self.currency, self.lines, self.total) = (by, since, until, currency, lines, total)
    }
}

/// `POST /v1/jobs?dryRun=true`: what a job would cost and whether its team's budget admits it.
public struct CostEstimateView: Codable, Hashable, Sendable {
    public var name: String
    public var team: String
    public var tasks: Int
    /// The whole job; absent when it cannot be estimated (see `basis`).
    public var estimate: Decimal?
    public var perTask: Decimal?
    /// The duration each task is priced for (`expectedDuration`, else `timeout`).
    public var duration: String?
    public var basis: String
    public var currency: String
    public var budget: BudgetView?
    /// Whether a real submission would be accepted.
    public var admitted: Bool
    /// Why it would be refused.
    public var refusal: String?
    public init(name: String, team: String, tasks: Int, estimate: Decimal?, perTask: Decimal?, duration: String?, basis: String, currency: String,
                budget: BudgetView?, admitted: Bool, refusal: String?) {
        self.name = name
        self.team = team
        self.tasks = tasks
        self.estimate = estimate
        self.perTask = perTask
        self.duration = duration
        self.basis = basis
        self.currency = currency
        self.budget = budget
        self.admitted = admitted
        self.refusal = refusal
    }
}

/// A budget alert (`GET /v1/alerts`).
public struct AlertView: Codable, Hashable, Sendable {
    public var team: String
    /// `soft` (the threshold) or `exhausted` (100 %).
    public var level: String
    public var at: String
    public var periodStart: String
    public var spent: Decimal
    public var budget: Decimal
    public var message: String
    public init(team: String, level: String, at: String, periodStart: String, spent: Decimal, budget: Decimal, message: String) {
        (self.team, self.level, self.at, self.periodStart, self.spent, self.budget, self.message) = (team, level, at, periodStart, spent, budget, message)
    }
}

/// One ledger row (`GET /v1/ledger`).
public struct LedgerEntryView: Codable, Hashable, Sendable {
    public var id: String
    public var attemptId: String
    public var team: String
    public var jobId: String
    public var nodeId: String
    /// `cpu`, `memory` or `gpu`.
    public var resource: String
    /// Cores, GiB or GPUs held.
    public var quantity: Decimal
    /// Per cpu-hour, GiB-hour or gpu-hour.
    public var rate: Decimal
    public var amount: Decimal
    public var from: String
    public var to: String
    /// The row this one cancels, for a correction.
    public var reverses: String?
    public var note: String?
    public init(id: String, attemptId: String, team: String, jobId: String, nodeId: String, resource: String, quantity: Decimal, rate: Decimal,
                amount: Decimal, from: String, to: String, reverses: String?, note: String?) {
        self.id = id
        self.attemptId = attemptId
        self.team = team
        self.jobId = jobId
        self.nodeId = nodeId
        self.resource = resource
        self.quantity = quantity
        self.rate = rate
        self.amount = amount
        self.from = from
        self.to = to
        self.reverses = reverses
        self.note = note
    }
}

/// `POST /v1/ledger/{id}/reverse`.
public struct LedgerReverseRequest: Codable, Hashable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}
