/// What a team may hold at once. A nil limit is unlimited.
public struct Quota: Hashable, Sendable, Codable {
    public var millicores: Int64?
    public var memoryBytes: Int64?
    public var gpus: Int?
    /// Tasks running at once.
    public var runningTasks: Int?
    /// Share of contended capacity relative to other teams (weighted fair share).
    public var weight: Double
    /// What the team may spend per period; nil is no money limit.
    public var budget: Budget?

    public init(millicores: Int64? = nil, memoryBytes: Int64? = nil, gpus: Int? = nil, runningTasks: Int? = nil, weight: Double = 1,
                budget: Budget? = nil) {
        self.millicores = millicores
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.runningTasks = runningTasks
        self.weight = weight
        self.budget = budget
    }

    public static let unlimited = Quota()

    /// Why one more task needing `resources` would break this quota, or nil if it fits.
    public func refusal(holding usage: TeamUsage, plus resources: Resources) -> String? {
        if let limit = millicores, usage.allocated.millicores + resources.millicores > limit {
            return "team quota: cpu \(Quantity.formatCPU(usage.allocated.millicores))/\(Quantity.formatCPU(limit)) in use"
        }
        if let limit = memoryBytes, usage.allocated.memoryBytes + resources.memoryBytes > limit {
            return "team quota: memory \(Quantity.formatSize(usage.allocated.memoryBytes))/\(Quantity.formatSize(limit)) in use"
        }
        if let limit = gpus, usage.allocated.gpus + resources.gpus > limit {
            return "team quota: gpu \(usage.allocated.gpus)/\(limit) in use"
        }
        if let limit = runningTasks, usage.running + 1 > limit {
            return "team quota: \(usage.running)/\(limit) tasks running"
        }
        return nil
    }

    /// Whether a single task needing `resources` could ever fit this quota.
    public func admits(_ resources: Resources) -> Bool {
        refusal(holding: TeamUsage(), plus: resources) == nil
    }
}

/// What a team holds right now.
public struct TeamUsage: Hashable, Sendable {
    public var allocated: Resources = .zero
    public var running = 0
    public init() {}
}

/// Teams' quotas and what each team holds now: the limits and the fair-share arithmetic.
public struct TeamQuotas: Sendable {
    /// Teams' own quotas; teams without one get `defaultQuota`.
    public internal(set) var quotas: [String: Quota] = [:]
    /// What each team holds now, kept in step with the active attempts.
    public private(set) var usage: [String: TeamUsage] = [:]
    /// The quota of teams without their own (policy).
    public let defaultQuota: Quota

    init(defaultQuota: Quota, quotas: [String: Quota] = [:]) {
        self.defaultQuota = defaultQuota
        self.quotas = quotas
    }

    /// The quota in force for `team`: its own, or the cluster default.
    public func quota(of team: String) -> Quota {
        quotas[team] ?? defaultQuota
    }

    /// Why one more task of `team` needing `resources` would break its quota, or nil if it fits.
    func refusal(team: String, plus resources: Resources) -> String? {
        quota(of: team).refusal(holding: usage[team] ?? TeamUsage(), plus: resources)
    }

    /// Adds (or, with `release`, removes) an allocation to a team's usage.
    mutating func hold(_ resources: Resources, team: String, release: Bool = false) {
        var held = usage[team] ?? TeamUsage()
        held.allocated = release ? held.allocated - resources : held.allocated + resources
        held.running += release ? -1 : 1
        usage[team] = held
    }

    /// Weighted dominant share of `team`: its largest fraction of any cluster resource, over its weight.
    func dominantShare(of team: String, capacity: Resources) -> Double {
        let held = usage[team]?.allocated ?? .zero
        var share = 0.0
        if capacity.millicores > 0 { share = max(share, Double(held.millicores) / Double(capacity.millicores)) }
        if capacity.memoryBytes > 0 { share = max(share, Double(held.memoryBytes) / Double(capacity.memoryBytes)) }
        if capacity.gpus > 0 { share = max(share, Double(held.gpus) / Double(capacity.gpus)) }
        return share / max(quota(of: team).weight, 0.001)
    }
}

extension ClusterState {
    /// The quota in force for `team`: its own, or the cluster default.
    public func quota(of team: String) -> Quota {
        teams.quota(of: team)
    }

    /// `team`'s weighted dominant share of the ready nodes, as the lease loop weighs it (fair share).
    public func dominantShare(of team: String) -> Double {
        teams.dominantShare(of: team, capacity: readyCapacity)
    }

    /// Sets a team's quota (admin). Wakes every poll: a raised quota may let queued work run.
    /// A budget that comes or goes re-estimates the team's live jobs, so that what they reserve
    /// is what a restart would derive.
    public mutating func setQuota(_ quota: Quota, for team: String, by actor: String, now: Timestamp) -> Transition<Void> {
        let hadBudget = teams.quota(of: team).budget != nil
        teams.quotas[team] = quota
        if hadBudget != (quota.budget != nil) { reestimateLiveJobs(of: team, now: now) }
        return Transition(mutations: [
            .putQuota(team: team, quota),
            .appendEvent(Event(subject: "team/\(team)", job: nil, at: now, from: nil, to: "quota set",
                               reason: "quota set: \(Self.describe(quota))", actor: actor))],
            effects: Effects(wake: WakeRule.everyPoll))
    }

    /// Changes the fields of a team's quota that `patch` names (admin), starting from the quota
    /// in force (its own, or the cluster default); see ``setQuota(_:for:by:now:)``.
    public mutating func patchQuota(_ patch: QuotaPatch, for team: String, by actor: String, now: Timestamp) throws(ClusterError) -> Transition<Void> {
        setQuota(try patch.applied(to: quota(of: team), team: team), for: team, by: actor, now: now)
    }

    static func describe(_ quota: Quota) -> String {
        var parts: [String] = []
        if let v = quota.millicores { parts.append("cpu \(Quantity.formatCPU(v))") }
        if let v = quota.memoryBytes { parts.append("memory \(Quantity.formatSize(v))") }
        if let v = quota.gpus { parts.append("gpu \(v)") }
        if let v = quota.runningTasks { parts.append("running \(v)") }
        parts.append("weight \(quota.weight)")
        if let budget = quota.budget {
            parts.append("budget \(Money.format(budget.amountMicros))/\(budget.period.rawValue) (alert at \(budget.softPercent) %\(budget.hardStop ? ", hard stop" : ""))")
        }
        return parts.joined(separator: ", ")
    }
}

/// A change to some fields of a quota (`PATCH /v1/quotas/{team}`, `drover quota set`): a field
/// not named keeps its value, so changing a limit never drops the budget.
public struct QuotaPatch: Hashable, Sendable {
    /// What happens to one field.
    public enum Change<Value: Hashable & Sendable>: Hashable, Sendable {
        case keep, set(Value), clear
    }

    public var millicores: Change<Int64> = .keep
    public var memoryBytes: Change<Int64> = .keep
    public var gpus: Change<Int> = .keep
    public var runningTasks: Change<Int> = .keep
    /// Cleared: back to 1.
    public var weight: Change<Double> = .keep
    public var budget: Change<BudgetPatch> = .keep

    public init() {}

    /// The field names a patch may clear, as the wire and the CLI's `--unset` spell them.
    public static let fieldNames = ["cpu", "memory", "gpu", "running", "weight", "budget"]

    /// `quota` with this patch's changes. Throws when it changes a budget the team does not
    /// have without giving its amount and period.
    public func applied(to quota: Quota, team: String) throws(ClusterError) -> Quota {
        func apply<V: Hashable & Sendable>(_ change: Change<V>, to value: V?) -> V? {
            switch change {
            case .keep: value
            case .set(let new): new
            case .clear: nil
            }
        }
        var result = quota
        result.millicores = apply(millicores, to: quota.millicores)
        result.memoryBytes = apply(memoryBytes, to: quota.memoryBytes)
        result.gpus = apply(gpus, to: quota.gpus)
        result.runningTasks = apply(runningTasks, to: quota.runningTasks)
        result.weight = apply(weight, to: quota.weight) ?? 1
        switch budget {
        case .keep: break
        case .clear: result.budget = nil
        case .set(let change): result.budget = try change.applied(to: quota.budget, team: team)
        }
        return result
    }
}

/// A change to some fields of a budget; nil keeps the field.
public struct BudgetPatch: Hashable, Sendable {
    public var amountMicros: Int64?
    public var period: BudgetPeriod?
    public var softPercent: Int?
    public var hardStop: Bool?

    public init(amountMicros: Int64? = nil, period: BudgetPeriod? = nil, softPercent: Int? = nil, hardStop: Bool? = nil) {
        (self.amountMicros, self.period, self.softPercent, self.hardStop) = (amountMicros, period, softPercent, hardStop)
    }

    /// `budget` with these changes; without a budget, amount and period are needed.
    public func applied(to budget: Budget?, team: String) throws(ClusterError) -> Budget {
        guard let amount = amountMicros ?? budget?.amountMicros, let period = period ?? budget?.period else {
            throw .conflict("team \(team) has no budget to change; give its amount and period, e.g. `drover quota set \(team) --budget 500/month`")
        }
        var result = budget ?? Budget(amountMicros: amount, period: period)
        result.amountMicros = amount
        result.period = period
        result.softPercent = softPercent ?? result.softPercent
        result.hardStop = hardStop ?? result.hardStop
        return result
    }
}
