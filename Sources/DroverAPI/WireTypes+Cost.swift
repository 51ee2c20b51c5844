import DroverCore
import Foundation

// MARK: - Cost

/// A team's budget and where it stands in the current period.
public struct BudgetView: Codable, Hashable, Sendable {
    public var amount: Decimal
    /// `day`, `week` or `month` (calendar periods in UTC).
    public var period: BudgetPeriod
    /// Percent of the budget at which an alert is raised.
    public var softPercent: Int
    /// Whether running attempts are stopped at 100 %.
    public var hardStop: Bool
    public var spent: Decimal
    public var remaining: Decimal
    /// What the team's admitted jobs still reserve: their estimates less what they have booked.
    public var reserved: Decimal?
    /// What a new job may be admitted for: `remaining` less `reserved`.
    public var available: Decimal?
    /// First day of the current period and of the next (`2026-11-01`).
    public var periodStart: String
    public var resets: String
    public var currency: String
    public init(amount: Decimal, period: BudgetPeriod, softPercent: Int, hardStop: Bool, spent: Decimal, remaining: Decimal, periodStart: String,
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
    public var level: BudgetAlert.Level
    public var at: String
    public var periodStart: String
    public var spent: Decimal
    public var budget: Decimal
    public var message: String
    public init(team: String, level: BudgetAlert.Level, at: String, periodStart: String, spent: Decimal, budget: Decimal, message: String) {
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
    public var resource: CostResource
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
    public init(id: String, attemptId: String, team: String, jobId: String, nodeId: String, resource: CostResource, quantity: Decimal, rate: Decimal,
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
