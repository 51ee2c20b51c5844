/// Rates an administrator sets by node label (`instance=g5.xlarge`), overriding what agents declare.
public struct RateCard: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var label: String
        public var value: String
        public var prices: Prices
        public init(label: String, value: String, prices: Prices) {
            (self.label, self.value, self.prices) = (label, value, prices)
        }
    }

    /// Checked in order; the first entry whose label matches wins.
    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    /// The prices of a node with `labels` whose agent declared `declared`.
    public func prices(for labels: [String: String], declared: Prices) -> Prices {
        entries.first { labels[$0.label] == $0.value }?.prices ?? declared
    }
}

/// What the store keeps of costs that the in-memory state needs back after a restart.
public struct CostHistory: Sendable {
    /// Spend per team and UTC day, for the days budgets can still look at.
    public var recentSpend: [(team: String, day: Int64, micros: Int64)]
    /// Alerts raised in those days.
    public var alerts: [BudgetAlert]
    public var lastLedgerID: Int64
    public var reversedLedgerEntries: Set<Int64>
    /// Per job, the cost of attempts that ended other than succeeded.
    public var jobWaste: [JobID: Int64]

    public init(recentSpend: [(team: String, day: Int64, micros: Int64)] = [], alerts: [BudgetAlert] = [], lastLedgerID: Int64 = 0,
                reversedLedgerEntries: Set<Int64> = [], jobWaste: [JobID: Int64] = [:]) {
        self.recentSpend = recentSpend
        self.alerts = alerts
        self.lastLedgerID = lastLedgerID
        self.reversedLedgerEntries = reversedLedgerEntries
        self.jobWaste = jobWaste
    }

    /// Budgets look back at most a month; this many days of spend are kept in memory.
    public static let daysKept: Int64 = 40
}

/// What a job would cost, and whether the team's budget admits it.
public struct CostEstimate: Hashable, Sendable {
    /// Whole job; nil when neither `expectedDuration` nor `timeout` is given, or no node could run it.
    public var totalMicros: Int64?
    public var perTaskMicros: Int64?
    public var durationMilliseconds: Int64?
    /// How the figure was reached, in words.
    public var basis: String
    public var budget: BudgetStatus?
}

extension ClusterState {
    // MARK: - Booking

    /// Books `attempt`'s cost from its meter's last booking up to `now`: one ledger row per
    /// priced resource it holds. Returns the micro-units booked.
    @discardableResult
    mutating func book(_ attempt: inout AttemptRecord, until now: Timestamp, into mutations: inout [Mutation]) -> Int64 {
        guard var meter = attempt.meter, now.milliseconds > meter.bookedUntilMilliseconds else { return 0 }
        let team = queue.jobs[attempt.task.job]?.record.spec.team ?? ""
        var total: Int64 = 0
        for (position, resource) in CostResource.allCases.enumerated() {
            let quantity = resource.quantity(in: attempt.allocation)
            let rate = meter.prices.rateMicros(of: resource)
            // A resource not held or not priced costs nothing and writes no row.
            guard quantity > 0, rate > 0 else { continue }
            let cumulative = CostMath.micros(resource, quantity: quantity, rateMicros: rate, milliseconds: now.milliseconds(since: meter.rateSince))
            let amount = cumulative - meter.bookedInSegment[position]
            meter.bookedInSegment[position] = cumulative
            mutations.append(.appendLedger(LedgerEntry(
                id: accounting.nextLedgerID(), attempt: attempt.id, team: team, job: attempt.task.job, node: attempt.node, resource: resource,
                quantity: quantity, rateMicros: rate, amountMicros: amount, from: meter.bookedUntil, to: now)))
            total += amount
        }
        meter.bookedUntilMilliseconds = now.milliseconds
        attempt.meter = meter
        attempt.costMicros = (attempt.costMicros ?? 0) + total
        if total != 0 {
            queue.jobs[attempt.task.job]?.costMicros += total
            accounting.addSpend(total, team: team, day: now.day)
            settleReservation(of: attempt.task.job)
        }
        return total
    }

    /// Books every running attempt whose last booking is at least `intervalMilliseconds` old,
    /// so running spend is visible and budgets see it, then enforces the budgets that grew. A hard
    /// stop that requeued attempts frees capacity for other teams: every poll is woken.
    public mutating func bookRunningCosts(now: Timestamp, intervalMilliseconds: Int64, random: inout some RandomNumberGenerator) -> Transition<Void> {
        let running = pool.activeAttempts.count
        var mutations: [Mutation] = []
        var grown: Set<String> = []
        let reachingHardStop = attemptsReachingHardStop(now: now)
        let due = pool.activeAttempts.values.filter {
            ($0.meter.map { now.milliseconds(since: $0.bookedUntil) } ?? 0) >= intervalMilliseconds || reachingHardStop.contains($0.id)
        }
        for var attempt in due.sorted(by: { $0.id < $1.id }) {
            if book(&attempt, until: now, into: &mutations) != 0, let team = queue.jobs[attempt.task.job]?.record.spec.team { grown.insert(team) }
            pool.activeAttempts[attempt.id] = attempt
            mutations.append(.putAttempt(attempt))
        }
        for team in grown.sorted() { enforceBudget(team: team, now: now, random: &random, into: &mutations) }
        return Transition(mutations: mutations, effects: Effects(wake: pool.activeAttempts.count < running ? WakeRule.everyPoll : .none))
    }

    /// Running attempts of teams with a hard-stop budget that their spend plus what these
    /// attempts accrued since their last booking reaches: booked at once rather than at their
    /// next interval, so a hard stop comes within one reaper tick (at most one booking interval)
    /// of the moment the budget is spent.
    func attemptsReachingHardStop(now: Timestamp) -> Set<AttemptID> {
        guard teams.defaultQuota.budget?.hardStop == true || teams.quotas.values.contains(where: { $0.budget?.hardStop == true }) else { return [] }
        var accrued: [String: (micros: Int64, attempts: [AttemptID])] = [:]
        for attempt in pool.activeAttempts.values {
            guard let meter = attempt.meter, let team = queue.jobs[attempt.task.job]?.record.spec.team,
                  teams.quota(of: team).budget?.hardStop == true else { continue }
            accrued[team, default: (0, [])].micros += meter.prices.cost(of: attempt.allocation, milliseconds: now.milliseconds(since: meter.bookedUntil))
            accrued[team]!.attempts.append(attempt.id)
        }
        var reaching: Set<AttemptID> = []
        for (team, running) in accrued {
            guard let status = budgetStatus(of: team, now: now), status.spentMicros + running.micros >= status.budget.amountMicros else { continue }
            reaching.formUnion(running.attempts)
        }
        return reaching
    }

    /// Changes the rates of a node from `now` on. Running attempts are booked up to now at the
    /// old rates and continue at the new ones; the ledger shows which rate each row used.
    public mutating func setPrices(_ prices: Prices, of id: NodeID, by actor: String, now: Timestamp) -> Transition<Void> {
        guard let node = pool.nodes[id], node.record.prices != prices else { return Transition() }
        var mutations: [Mutation] = []
        for attemptID in node.active.sorted() {
            guard var attempt = pool.activeAttempts[attemptID] else { continue }
            book(&attempt, until: now, into: &mutations)
            attempt.meter = CostMeter(prices: prices, since: now)
            pool.activeAttempts[attemptID] = attempt
            mutations.append(.putAttempt(attempt))
        }
        let old = node.record.prices
        pool.nodes[id]!.record.prices = prices
        mutations.append(.putNode(pool.nodes[id]!.record))
        mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: nil, to: "rates changed",
                                            reason: "rates \(describe(old)) -> \(describe(prices))", actor: actor)))
        return Transition(mutations: mutations)
    }

    /// Applies a new rate card to every node: nodes whose rates change get them from `now` on.
    public mutating func applyRateCard(_ card: RateCard, by actor: String, now: Timestamp) -> Transition<Void> {
        policy.rateCard = card
        var transition = Transition()
        for id in pool.nodes.keys.sorted() {
            let record = pool.nodes[id]!.record
            transition.absorb(setPrices(card.prices(for: record.labels, declared: record.declaredPrices ?? record.prices), of: id, by: actor, now: now))
        }
        return transition
    }

    /// `0.048 USD/cpu-hour, 0.006 USD/GiB-hour, 0 USD/gpu-hour`.
    public func describe(_ prices: Prices) -> String {
        CostResource.allCases.map { "\(Money.exact(prices.rateMicros(of: $0))) \(policy.currency)/\($0.rateUnit)" }.joined(separator: ", ")
    }

    // MARK: - Budgets

    /// Where `team` stands against its budget in the period containing `now`; nil without a budget.
    public func budgetStatus(of team: String, now: Timestamp) -> BudgetStatus? {
        accounting.status(of: team, budget: teams.quota(of: team).budget, now: now)
    }

    /// `412.50 of 500.00 USD per month spent`.
    public func describe(_ status: BudgetStatus) -> String {
        "\(Money.format(status.spentMicros)) of \(Money.format(status.budget.amountMicros)) \(policy.currency) per \(status.budget.period.rawValue) spent"
    }

    /// Raises the team's budget alerts it has reached (once per period each) and, at 100 % with
    /// a hard stop, requeues its running attempts.
    mutating func enforceBudget(team: String, now: Timestamp, random: inout some RandomNumberGenerator, into mutations: inout [Mutation]) {
        guard let status = budgetStatus(of: team, now: now) else { return }
        let period = status.periodStart.daysSinceEpoch
        func raise(_ level: BudgetAlert.Level, _ message: String) {
            guard accounting.noteAlert(team: team, level: level, periodStartDay: period, budgetMicros: status.budget.amountMicros) else { return }
            mutations.append(.appendAlert(BudgetAlert(team: team, level: level, at: now, periodStartDay: period, spentMicros: status.spentMicros,
                                                      budgetMicros: status.budget.amountMicros, message: message)))
            mutations.append(.appendEvent(Event(subject: "team/\(team)", job: nil, at: now, from: nil, to: "budget \(level.rawValue)",
                                                reason: message, actor: "coordinator")))
        }
        if status.spentMicros >= status.budget.softMicros {
            raise(.soft, "team \(team) reached \(status.budget.softPercent) % of its budget: \(describe(status))")
        }
        guard status.exhausted else { return }
        let consequence = status.budget.hardStop ? "new leases stop and running attempts are requeued" : "new leases stop; running attempts finish"
        raise(.exhausted, "team \(team) exhausted its budget: \(describe(status)); \(consequence) until \(status.resets)")
        guard status.budget.hardStop else { return }
        let running = pool.activeAttempts.values.filter { queue.jobs[$0.task.job]?.record.spec.team == team }.map(\.id).sorted()
        for id in running {
            endAttempt(id, outcome: .preempted, report: nil, reason: "team \(team)'s budget is exhausted (hard stop)", actor: "coordinator",
                       now: now, random: &random, into: &mutations, requeueFree: true, checkBudget: false)
        }
    }

    // MARK: - Corrections

    /// Appends a row that cancels ledger row `entry` (found in the store). `attempt` is the
    /// attempt's stored record when it has ended; its cost and the job's totals are corrected.
    public mutating func reverse(_ entry: LedgerEntry, finishedAttempt: AttemptRecord?, reason: String, by actor: String,
                                 now: Timestamp) throws(ClusterError) -> Transition<LedgerEntry> {
        guard entry.reverses == nil else { throw .conflict("ledger entry \(entry.id) is itself a reversal (of entry \(entry.reverses!)); it cannot be reversed") }
        guard !accounting.reversedLedgerEntries.contains(entry.id) else { throw .conflict("ledger entry \(entry.id) has already been reversed") }
        guard pool.activeAttempts[entry.attempt] != nil || finishedAttempt != nil else {
            throw .changedMeanwhile("attempt \(entry.attempt) ended while the correction was prepared; try again")
        }
        var mutations: [Mutation] = []
        var reversal = entry
        reversal.id = accounting.nextLedgerID()
        reversal.amountMicros = -entry.amountMicros
        reversal.reverses = entry.id
        reversal.note = "\(reason) (by \(actor))"
        accounting.noteReversal(of: entry.id)
        mutations.append(.appendLedger(reversal))
        if var attempt = pool.activeAttempts[entry.attempt] {
            attempt.costMicros = (attempt.costMicros ?? 0) - entry.amountMicros
            pool.activeAttempts[entry.attempt] = attempt
            mutations.append(.putAttempt(attempt))
        } else if var attempt = finishedAttempt {
            attempt.costMicros = (attempt.costMicros ?? 0) - entry.amountMicros
            mutations.append(.putAttempt(attempt))
            if attempt.state != .succeeded { queue.jobs[entry.job]?.wastedMicros -= entry.amountMicros }
        }
        queue.jobs[entry.job]?.costMicros -= entry.amountMicros
        accounting.addSpend(-entry.amountMicros, team: entry.team, day: entry.to.day)
        settleReservation(of: entry.job)
        mutations.append(.appendEvent(Event(subject: "attempt/\(entry.attempt)", job: entry.job, at: now, from: nil, to: "cost corrected",
                                            reason: "ledger entry \(entry.id) (\(Money.exact(entry.amountMicros)) \(policy.currency)) reversed by entry \(reversal.id): \(reason)",
                                            actor: actor)))
        return Transition(reversal, mutations: mutations)
    }
}
