import DroverCore
import DroverTesting
import Testing

extension Mutation {
    var ledger: LedgerEntry? { if case .appendLedger(let e) = self { e } else { nil } }
    var alert: BudgetAlert? { if case .appendAlert(let a) = self { a } else { nil } }
}

/// Prices as people write them: `price("0.048")` is 48,000 micro-units.
func price(_ text: String) -> Int64 { Money.parseMicros(text)! }

@Suite struct CostArithmeticTests {
    @Test func costsAreExactInMicroUnits() {
        // One core for one hour at 0.048/cpu-hour is exactly 0.048.
        #expect(CostMath.micros(.cpu, quantity: 1000, rateMicros: price("0.048"), milliseconds: 3_600_000) == 48_000)
        // 512 MiB for 90 minutes at 0.006/GiB-hour: 0.5 × 1.5 × 0.006 = 0.0045.
        #expect(CostMath.micros(.memory, quantity: 512 << 20, rateMicros: price("0.006"), milliseconds: 5_400_000) == 4_500)
        // 2 GPUs for 1 ms at 2.5/gpu-hour: 5e6 / 3.6e6 = 1.39 micro-units, rounded to 1.
        #expect(CostMath.micros(.gpu, quantity: 2, rateMicros: price("2.5"), milliseconds: 1) == 1)
        // Halves round away from zero: one GPU at 1 micro-unit per hour for 30 minutes is 0.5.
        #expect(CostMath.micros(.gpu, quantity: 1, rateMicros: 1, milliseconds: 1_800_000) == 1)
        #expect(CostMath.micros(.gpu, quantity: 1, rateMicros: 1, milliseconds: 1_799_999) == 0)
        // 250 millicores at 0.1 for 36 s: 0.25 × 0.1 × 0.01 h = 0.00025.
        #expect(CostMath.micros(.cpu, quantity: 250, rateMicros: price("0.1"), milliseconds: 36_000) == 250)
        // Large values do not overflow: 1 TiB of memory at 1000/GiB-hour for a year.
        let year: Int64 = 365 * 86_400_000
        #expect(CostMath.micros(.memory, quantity: 1 << 40, rateMicros: price("1000"), milliseconds: year) == 1024 * 1000 * 8760 * 1_000_000)
    }

    @Test func moneyParsesAndPrintsWithoutFloatingPoint() {
        #expect(Money.parseMicros("0.048") == 48_000)
        #expect(Money.parseMicros("12") == 12_000_000)
        #expect(Money.parseMicros("1.000001") == 1_000_001)
        for bad in ["", ".5", "1.", "-1", "1e3", "0.0000001", "1,5", "abc", "1.2.3"] { #expect(Money.parseMicros(bad) == nil, "\(bad)") }
        #expect(Money.format(12_345_678) == "12.35")
        #expect(Money.format(5_000) == "0.01")
        #expect(Money.format(4_999) == "0.00")
        #expect(Money.format(-5_000) == "-0.01")
        #expect(Money.format(12_345_678, places: 6) == "12.345678")
        #expect(Money.exact(12_500_000) == "12.50")
        #expect(Money.exact(12_345) == "0.012345")
    }

    @Test func calendarPeriodsAreUTCDaysWeeksAndMonths() throws {
        let date = try #require(CivilDate(parsing: "2026-11-26")) // a Thursday
        let day = date.daysSinceEpoch
        #expect(CivilDate(day: day) == date)
        #expect(CivilDate(day: BudgetPeriod.week.firstDay(containing: day)).description == "2026-11-23")
        #expect(CivilDate(day: BudgetPeriod.week.nextFirstDay(after: day)).description == "2026-11-30")
        #expect(CivilDate(day: BudgetPeriod.month.firstDay(containing: day)).description == "2026-11-01")
        #expect(CivilDate(day: BudgetPeriod.month.nextFirstDay(after: day)).description == "2026-12-01")
        let december = try #require(CivilDate(parsing: "2026-12-31")).daysSinceEpoch
        #expect(CivilDate(day: BudgetPeriod.month.nextFirstDay(after: december)).description == "2027-01-01")
        #expect(CivilDate(parsing: "2026-02-29") == nil)
        #expect(CivilDate(parsing: "2028-02-29") != nil)
        #expect(CivilDate(day: 0).description == "1970-01-01")
        // Every day from 1999 to 2031 round-trips.
        for d in Int64(10_592)...Int64(22_645) { #expect(CivilDate(day: d).daysSinceEpoch == d) }
    }
}

@Suite struct MeteringTests {
    static let rates = Prices(cpuHourMicros: price("0.048"), memoryGiBHourMicros: price("0.006"), gpuHourMicros: price("2.5"))

    @Test func intervalBookingsSumToTheExactCostOfTheWholeAttempt() throws {
        // Given a task of 1.5 cores, 3 GiB and 1 GPU on a priced node,
        var h = Harness()
        let node = h.register("gpu-1", cpu: 8000, memory: 32 << 30, gpus: [0, 1], prices: Self.rates)
        try h.submit(makeSpec(cpu: 1500, memory: 3 << 30, gpus: 1))
        let attempt = try #require(h.lease(node).first)
        // when it runs 10 minutes 7.123 s and is booked every 60 s on the way,
        for _ in 0..<10 {
            h.advance(60_000)
            h.mutations += h.state.bookRunningCosts(now: h.now, intervalMilliseconds: 60_000, random: &h.random).mutations
        }
        #expect(h.state.activeAttempts[attempt.id]!.costMicros! > 0, "running spend is visible")
        h.advance(7_123)
        h.report(attempt.id, .succeeded, exitCode: 0)
        // then its ledger rows (3 resources × 11 intervals) tile the attempt without gaps,
        let rows = h.mutations.compactMap(\.ledger).filter { $0.attempt == attempt.id }
        #expect(rows.count == 33)
        for resource in CostResource.allCases {
            let mine = rows.filter { $0.resource == resource }
            #expect(mine.first?.from == attempt.startedAt && mine.last?.to == h.now)
            for (a, b) in zip(mine, mine.dropFirst()) { #expect(a.to == b.from) }
        }
        // and sum, per resource, to its exact cost over the whole run rounded once.
        let wall = h.now.milliseconds(since: attempt.startedAt)
        let expected = CostMath.micros(.cpu, quantity: 1500, rateMicros: price("0.048"), milliseconds: wall)
            + CostMath.micros(.memory, quantity: 3 << 30, rateMicros: price("0.006"), milliseconds: wall)
            + CostMath.micros(.gpu, quantity: 1, rateMicros: price("2.5"), milliseconds: wall)
        #expect(rows.reduce(0) { $0 + $1.amountMicros } == expected)
        let ended = try #require(h.mutations.compactMap(\.attempt).last { $0.id == attempt.id })
        #expect(ended.costMicros == expected && ended.meter == nil)
        #expect(h.job(attempt.task.job).costMicros == expected && h.job(attempt.task.job).wastedMicros == 0)
        // 607.123 s: cpu 0.012142, memory 0.003036, gpu 0.421613 (each rounded to the micro-unit).
        #expect(expected == 12_142 + 3_036 + 421_613)
    }

    @Test func aRateChangeMidAttemptAppliesFromTheChangeOn() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000, memory: 8 << 30, prices: Prices(cpuHourMicros: price("0.10")))
        try h.submit(makeSpec(cpu: 2000, memory: 0))
        let attempt = try #require(h.lease(node).first)
        h.advance(25 * 60_000)
        h.mutations += h.state.setPrices(Prices(cpuHourMicros: price("0.40")), of: node, by: "admin", now: h.now).mutations
        h.advance(35 * 60_000)
        h.report(attempt.id, .failed, exitCode: 1)
        let rows = h.mutations.compactMap(\.ledger)
        // 2 cores × 25 min × 0.10 = 0.083333; 2 cores × 35 min × 0.40 = 0.466667.
        #expect(rows.map(\.rateMicros) == [100_000, 400_000])
        #expect(rows.map(\.amountMicros) == [83_333, 466_667])
        #expect(h.job(attempt.task.job).costMicros == 550_000)
        #expect(h.job(attempt.task.job).wastedMicros == 550_000, "a failed attempt's spend is wasted")
        #expect(h.mutations.compactMap(\.event).contains { $0.to == "rates changed" })
    }

    @Test func lostAttemptsAreBilledUntilTheyWereDeclaredLost() throws {
        var h = Harness()
        let node = h.register("n", prices: Prices(cpuHourMicros: price("3.6")))
        try h.submit(makeSpec(cpu: 1000, memory: 0))
        let attempt = try #require(h.lease(node).first)
        h.advance(30_000) // silent from here
        _ = h.expire(ttl: 20_000)
        let rows = h.mutations.compactMap(\.ledger)
        #expect(rows.count == 1 && rows[0].to == h.now)
        #expect(rows[0].amountMicros == 30_000) // 30 s at 3.6/hour = 0.03
        #expect(h.job(attempt.task.job).wastedMicros == 30_000)
    }

    @Test func unpricedOrUnheldResourcesWriteNoRows() throws {
        var h = Harness()
        let node = h.register("free")
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        h.advance(1000)
        h.report(attempt.id, .succeeded, exitCode: 0)
        #expect(h.mutations.compactMap(\.ledger).isEmpty)
    }

    @Test func aRateCardOverridesWhatAgentsDeclareByLabel() throws {
        var h = Harness(policy: ClusterPolicy(rateCard: RateCard(entries: [.init(label: "instance", value: "g5.xlarge", prices: Prices(gpuHourMicros: price("1.006")))])))
        let tagged = h.register("a", labels: ["instance": "g5.xlarge"], prices: Prices(gpuHourMicros: 1))
        let other = h.register("b", labels: ["instance": "c6i"], prices: Prices(cpuHourMicros: 7))
        #expect(h.state.nodes[tagged]!.record.prices.gpuHourMicros == 1_006_000)
        #expect(h.state.nodes[other]!.record.prices.cpuHourMicros == 7)
        // Removing the entry falls back to what the agent declared.
        h.mutations += h.state.applyRateCard(RateCard(), by: "admin", now: h.now).mutations
        #expect(h.state.nodes[tagged]!.record.prices == Prices(gpuHourMicros: 1))
    }

    @Test func aReversalCancelsARowOnceAndCorrectsTheTotals() throws {
        var h = Harness()
        let node = h.register("n", prices: Prices(cpuHourMicros: price("3.6")))
        try h.submit(makeSpec(cpu: 1000, memory: 0))
        let attempt = try #require(h.lease(node).first)
        h.advance(10_000)
        h.report(attempt.id, .failed, exitCode: 1)
        let row = try #require(h.mutations.compactMap(\.ledger).first)
        let ended = try #require(h.mutations.compactMap(\.attempt).last)
        let reversed = try h.state.reverse(row, finishedAttempt: ended, reason: "node had a bad disk", by: "admin", now: h.now)
        let (reversal, m) = (reversed.value, reversed.mutations)
        #expect(reversal.amountMicros == -row.amountMicros && reversal.reverses == row.id && reversal.id > row.id)
        #expect(m.compactMap(\.attempt).first?.costMicros == 0)
        #expect(h.job(attempt.task.job).costMicros == 0 && h.job(attempt.task.job).wastedMicros == 0)
        #expect(throws: ClusterError.self) { try h.state.reverse(row, finishedAttempt: ended, reason: "again", by: "admin", now: h.now) }
        #expect(throws: ClusterError.self) { try h.state.reverse(reversal, finishedAttempt: ended, reason: "undo", by: "admin", now: h.now) }
    }
}

@Suite struct BudgetTests {
    /// A node at 3.6 per cpu-hour: one core costs exactly 0.001 per second.
    static let rates = Prices(cpuHourMicros: price("3.6"))
    static let now = Timestamp.startOf(day: CivilDate(parsing: "2026-11-26")!.daysSinceEpoch).adding(milliseconds: 12 * 3_600_000)

    func harness(budget: Budget) -> (Harness, NodeID) {
        var h = Harness()
        h.now = Self.now
        let node = h.register("n", cpu: 8000, memory: 64 << 30, prices: Self.rates)
        h.mutations += h.state.setQuota(Quota(budget: budget), for: "ml", by: "admin", now: h.now).mutations
        return (h, node)
    }


    @Test func theSoftThresholdAlertsOnceAndTheBudgetStopsNewLeases() throws {
        // Given team ml with 0.100 per day and two one-core tasks running (0.002 per second together),
        var (h, node) = harness(budget: Budget(amountMicros: 100_000, period: .day))
        h.mutations += h.state.setQuota(Quota(runningTasks: 2, budget: Budget(amountMicros: 100_000, period: .day)), for: "ml", by: "admin", now: h.now).mutations
        var first = makeSpec(team: "ml", kind: .batch, tasks: 10, cpu: 1000, memory: 0)
        first.expectedDurationMilliseconds = 5_000 // estimated 0.050: admitted (its tasks then run longer)
        try h.submit(first)
        #expect(h.lease(node, limit: 2).count == 2)
        try h.submit(makeSpec(team: "other", kind: .batch, tasks: 10, cpu: 1000, memory: 0))
        // when 40 s are booked (0.080, 80 %), one soft alert is raised and leasing goes on;
        h.book(every: 10_000, times: 4)
        #expect(h.mutations.compactMap(\.alert).map(\.level) == [.soft])
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.spentMicros == 80_000)
        h.book(every: 10_000, times: 1)
        // at 100 % the budget is exhausted: one more alert, no new lease for ml,
        #expect(h.mutations.compactMap(\.alert).map(\.level) == [.soft, .exhausted])
        let running = h.state.activeAttempts.keys.sorted()
        #expect(running.count == 2, "without a hard stop, running attempts go on")
        for id in running { h.report(id, .succeeded, exitCode: 0) }
        let leased = h.lease(node)
        #expect(!leased.isEmpty && leased.allSatisfy { h.job($0.task.job).record.spec.team == "other" })
        // and new submissions are refused, saying the estimate and what is left.
        var spec = makeSpec(team: "ml", cpu: 1000, memory: 0)
        spec.expectedDurationMilliseconds = 60_000
        do {
            try h.submit(spec)
            Issue.record("a job of a team over budget was accepted")
        } catch let error as ClusterError {
            guard case .overBudget(let why) = error else { Issue.record("wrong error \(error)"); return }
            #expect(why.contains("0.06 USD") && why.contains("0.00 USD left until 2026-11-27"), "\(why)")
        }
        // The next day the budget starts again.
        h.advance(86_400_000)
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.spentMicros == 0)
        try h.submit(spec)
    }

    @Test func aHardStopRequeuesRunningAttemptsWithoutUsingTheirBudgets() throws {
        var (h, node) = harness(budget: Budget(amountMicros: 50_000, period: .week, hardStop: true))
        let job = try h.submit(makeSpec(team: "ml", kind: .batch, tasks: 3, cpu: 1000, memory: 0))
        #expect(h.lease(node).count == 3)
        h.book(every: 10_000, times: 2) // 3 cores × 20 s = 0.060 ≥ 0.050
        #expect(h.state.activeAttempts.isEmpty)
        let requeued = h.job(job)
        #expect(requeued.queued == 3 && requeued.tasks.values.allSatisfy { $0.lost == 0 && $0.failures == 0 })
        #expect(h.lease(node).isEmpty, "no lease until the budget allows")
        // Overspend is bounded by one booking interval of what ran: 0.060 - 0.050 ≤ 3 × 0.010.
        let spent = h.state.budgetStatus(of: "ml", now: h.now)!.spentMicros
        #expect(spent == 60_000 && spent - 50_000 <= 3 * 10_000)
    }

    @Test func aJobLargerThanWhatIsLeftIsRefusedWithItsEstimate() throws {
        var (h, _) = harness(budget: Budget(amountMicros: 1_000_000, period: .month))
        h.register("cheap", cpu: 8000, memory: 64 << 30, prices: Prices(cpuHourMicros: price("1.8")))
        var spec = makeSpec(team: "ml", kind: .batch, tasks: 10, cpu: 2000, memory: 0)
        spec.timeoutMilliseconds = 3_600_000
        // 10 tasks × 2 cores × 1 h at the dearer node's 3.6 (a task may land on either) = 72.00 > 1.00.
        let estimate = h.state.estimate(spec, now: h.now)
        #expect(estimate.totalMicros == 72_000_000 && estimate.perTaskMicros == 7_200_000)
        #expect(estimate.basis.contains("rates of n, the most expensive") && estimate.basis.contains("36.00 USD if every task ran on cheap"), "\(estimate.basis)")
        let refusal = try #require(h.state.budgetRefusal(team: "ml", estimate: estimate))
        #expect(refusal.contains("72.00 USD") && refusal.contains("1.00 USD left until 2026-12-01"), "\(refusal)")
        spec.expectedDurationMilliseconds = 30_000 // 10 × 2 × 30 s × 3.6/h = 0.60
        #expect(h.state.estimate(spec, now: h.now).totalMicros == 600_000)
        #expect(h.state.budgetRefusal(team: "ml", estimate: h.state.estimate(spec, now: h.now)) == nil)
        // Without any duration there is no estimate, and a budget without a hard stop refuses the
        // job, saying how to bound it.
        spec.expectedDurationMilliseconds = nil
        spec.timeoutMilliseconds = nil
        #expect(h.state.estimate(spec, now: h.now).totalMicros == nil)
        let unbounded = try #require(h.state.budgetRefusal(team: "ml", estimate: h.state.estimate(spec, now: h.now)))
        #expect(unbounded.contains("cannot be bounded") && unbounded.contains("--timeout") && unbounded.contains("expectedDuration"), "\(unbounded)")
    }
}

extension Harness {
    /// Advances the clock `times` times by `interval`, booking running costs each time.
    mutating func book(every interval: Int64, times: Int) {
        for _ in 0..<times {
            advance(interval)
            mutations += state.bookRunningCosts(now: now, intervalMilliseconds: interval, random: &random).mutations
        }
    }
}
