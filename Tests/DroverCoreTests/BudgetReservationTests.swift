import DroverCore
import DroverTesting
import Testing

/// Budgets that hold: admitted jobs reserve their estimates until they are spent, so what is
/// admitted never adds up to more than the budget.
@Suite struct BudgetReservationTests {
    /// One core costs 1.00 per second at 3600 per cpu-hour.
    static let rates = Prices(cpuHourMicros: price("3600"))
    /// Noon UTC of 2026-11-26.
    static let noon = Timestamp.startOf(day: CivilDate(parsing: "2026-11-26")!.daysSinceEpoch).adding(milliseconds: 12 * 3_600_000)

    func harness(budget: Budget, at now: Timestamp = noon) -> (Harness, NodeID) {
        var h = Harness()
        h.now = now
        let node = h.register("n", cpu: 64_000, memory: 64 << 30, prices: Self.rates)
        h.mutations += h.state.setQuota(Quota(budget: budget), for: "ml", by: "admin", now: h.now).mutations
        return (h, node)
    }

    /// One one-core task expected to run `seconds`: estimated at `seconds` × 1.00.
    func spec(seconds: Int64, tasks: Int = 1, team: String = "ml") -> JobSpec {
        var spec = makeSpec(team: team, kind: .batch, tasks: tasks, cpu: 1000, memory: 0)
        spec.expectedDurationMilliseconds = seconds * 1000
        return spec
    }

    func refusal(_ h: inout Harness, _ spec: JobSpec) -> String? {
        do {
            try h.submit(spec)
            return nil
        } catch let error as ClusterError {
            guard case .overBudget(let why) = error else { return "wrong error: \(error)" }
            return why
        } catch {
            return "wrong error: \(error)"
        }
    }

    @Test func jobsSubmittedAtOnceAreAdmittedOnlyUpToTheBudget() throws {
        // Given 10.00 a day and jobs estimated at 1.00 each, none of which has run yet,
        var (h, _) = harness(budget: Budget(amountMicros: 10_000_000, period: .day))
        // when 100 are submitted at once, the first 10 are admitted
        var admitted = 0
        var refusals: [String] = []
        for _ in 0..<100 {
            if let why = refusal(&h, spec(seconds: 1)) { refusals.append(why) } else { admitted += 1 }
        }
        #expect(admitted == 10)
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.reservedMicros == 10_000_000)
        // and the other 90 are refused with the estimate and what is left once reservations count.
        #expect(refusals.count == 90)
        let why = try #require(refusals.first)
        #expect(why.contains("estimated cost 1.00 USD") && why.contains("0.00 USD left until 2026-11-27")
                && why.contains("10.00 reserved by the team's admitted jobs"), "\(why)")
    }

    @Test func aReservationShrinksAsSpendIsBookedAndIsReleasedWhenTheJobEnds() throws {
        // Given a job estimated at 10.00 (10 s) running,
        var (h, node) = harness(budget: Budget(amountMicros: 20_000_000, period: .day))
        let job = try h.submit(spec(seconds: 10))
        let attempt = try #require(h.lease(node).first)
        // when 4 s are booked, it reserves the 6.00 it may still spend: spent + reserved is its estimate;
        h.book(every: 2_000, times: 2)
        var status = h.state.budgetStatus(of: "ml", now: h.now)!
        #expect(status.spentMicros == 4_000_000 && status.reservedMicros == 6_000_000 && status.availableMicros == 10_000_000)
        #expect(refusal(&h, spec(seconds: 11)) != nil, "11.00 does not fit in the 10.00 not reserved")
        // and when it ends after 5 s, what it did not use is released.
        h.advance(1_000)
        h.report(attempt.id, .succeeded, exitCode: 0)
        #expect(h.job(job).record.state == .succeeded)
        status = h.state.budgetStatus(of: "ml", now: h.now)!
        #expect(status.spentMicros == 5_000_000 && status.reservedMicros == 0 && status.availableMicros == 15_000_000)
        #expect(refusal(&h, spec(seconds: 15)) == nil)
    }

    @Test func aCancelledJobReleasesItsReservationOnceItsAttemptsHaveEnded() throws {
        var (h, node) = harness(budget: Budget(amountMicros: 20_000_000, period: .day))
        let job = try h.submit(spec(seconds: 5, tasks: 2))
        let attempts = h.lease(node, limit: 1)
        try h.cancel(job)
        // The attempt still running may still spend: its part stays reserved until it reports.
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.reservedMicros == 10_000_000)
        h.advance(1_000)
        h.report(attempts[0].id, .cancelled)
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.reservedMicros == 0)
        #expect(h.state.budgetStatus(of: "ml", now: h.now)!.spentMicros == 1_000_000)
    }

    @Test func aJobWhoseCostCannotBeBoundedIsRefusedUnlessTheBudgetHasAHardStop() throws {
        var (h, _) = harness(budget: Budget(amountMicros: 5_000_000, period: .day))
        var unbounded = spec(seconds: 1)
        unbounded.expectedDurationMilliseconds = nil
        let why = try #require(refusal(&h, unbounded))
        #expect(why.contains("cannot be bounded") && why.contains("--timeout") && why.contains("expectedDuration")
                && why.contains("--budget-hard-stop"), "\(why)")
        // A timeout bounds it: 1 core × 4 s = 4.00 fits in 5.00.
        var timed = unbounded
        timed.timeoutMilliseconds = 4_000
        #expect(refusal(&h, timed) == nil)
        // With a hard stop the budget itself bounds it: admitted while something is not reserved.
        h.mutations += h.state.setQuota(Quota(budget: Budget(amountMicros: 5_000_000, period: .day, hardStop: true)), for: "ml", by: "admin",
                                        now: h.now).mutations
        #expect(refusal(&h, unbounded) == nil)
        #expect(refusal(&h, spec(seconds: 1)) == nil) // 4.00 + 1.00 reserved: nothing left
        let full = try #require(refusal(&h, unbounded))
        #expect(full.contains("nothing of team ml's budget is left"), "\(full)")
    }

    @Test func theReservationIsDerivedAgainAfterARestart() throws {
        // Given two live jobs of a team with a budget, one of them half spent,
        var (h, node) = harness(budget: Budget(amountMicros: 20_000_000, period: .day))
        try h.submit(spec(seconds: 4))
        try h.submit(spec(seconds: 6))
        _ = h.lease(node, limit: 1)
        h.book(every: 2_000, times: 1)
        let before = h.state.budgetStatus(of: "ml", now: h.now)!
        #expect(before.reservedMicros == 8_000_000 && before.spentMicros == 2_000_000)
        // when the state is rebuilt from what the store keeps (no reservation is stored),
        let state = h.state
        let restarted = ClusterState(
            jobs: state.jobs.values.map(\.record), tasks: state.jobs.values.flatMap { $0.tasks.values }, activeAttempts: Array(state.activeAttempts.values),
            nodes: state.nodes.values.map(\.record), jobCosts: state.jobs.mapValues(\.costMicros), quotas: state.quotas,
            costs: CostHistory(recentSpend: state.dailySpend.flatMap { team, days in days.map { (team: team, day: $0.key, micros: $0.value) } }),
            lastAttemptID: state.lastAttemptID, now: h.now)
        // the team's reservation is the same.
        #expect(restarted.budgetStatus(of: "ml", now: h.now) == before)
    }

    @Test func aNewDayResetsTheSpendAndKeepsWhatLiveJobsStillReserve() throws {
        // Given a 5.00 daily budget, 23:59:56, a job estimated at 4.00 running,
        let late = Timestamp.startOf(day: CivilDate(parsing: "2026-11-27")!.daysSinceEpoch).adding(milliseconds: -4_000)
        var (h, node) = harness(budget: Budget(amountMicros: 5_000_000, period: .day), at: late)
        try h.submit(spec(seconds: 4))
        _ = h.lease(node)
        h.book(every: 2_000, times: 1) // 2.00 booked on the 26th
        h.advance(2_000)
        // at midnight the spend starts again, and the job still reserves the 2.00 it may spend:
        let status = h.state.budgetStatus(of: "ml", now: h.now)!
        #expect(status.periodStart.description == "2026-11-27" && status.spentMicros == 0 && status.reservedMicros == 2_000_000)
        #expect(refusal(&h, spec(seconds: 3)) == nil)
        #expect(refusal(&h, spec(seconds: 1)) != nil, "2.00 + 3.00 reserved of 5.00")
    }

    @Test func aHardStopComesAtTheFirstBookingTickAfterTheBudgetIsSpent() throws {
        // Given bookings due every 60 s but a reaper that ticks every second, and a hard stop at 10.00,
        var (h, node) = harness(budget: Budget(amountMicros: 10_000_000, period: .day, hardStop: true))
        var unbounded = spec(seconds: 1, tasks: 3)
        unbounded.expectedDurationMilliseconds = nil
        try h.submit(unbounded)
        #expect(h.lease(node).count == 3) // 3.00 per second together
        // when the ticks go on, the team is stopped at the tick that reaches 10.00, not a minute later:
        for _ in 0..<60 where !h.state.activeAttempts.isEmpty {
            h.advance(1_000)
            h.mutations += h.state.bookRunningCosts(now: h.now, intervalMilliseconds: 60_000, random: &h.random).mutations
        }
        #expect(h.state.activeAttempts.isEmpty)
        let spent = h.state.budgetStatus(of: "ml", now: h.now)!.spentMicros
        // overspend at most one tick of the team's running rate.
        #expect(spent >= 10_000_000 && spent - 10_000_000 <= 3_000_000, "spent \(spent)")
    }

    @Test func aBudgetRaisedMidPeriodAlertsAgainWhenItIsReached() throws {
        var (h, node) = harness(budget: Budget(amountMicros: 2_000_000, period: .day))
        try h.submit(spec(seconds: 2))
        #expect(refusal(&h, spec(seconds: 100)) != nil)
        _ = h.lease(node)
        h.book(every: 1_000, times: 2)
        #expect(h.mutations.compactMap(\.alert).map(\.level) == [.soft, .exhausted])
        // Raised to 4.00: both thresholds are crossed again, and each alerts again, once.
        h.mutations += h.state.setQuota(Quota(budget: Budget(amountMicros: 4_000_000, period: .day)), for: "ml", by: "admin", now: h.now).mutations
        h.book(every: 1_000, times: 3)
        let alerts = h.mutations.compactMap(\.alert)
        #expect(alerts.map(\.level) == [.soft, .exhausted, .soft, .exhausted])
        #expect(alerts.last?.budgetMicros == 4_000_000)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func whatIsAdmittedNeverAddsUpToMoreThanTheBudget(seed: UInt64) throws {
        // Given a 30.00 daily budget, from 30 s before midnight, and random streams of submits, leases,
        // bookings, reports (each task ends by its expected duration) and cancels,
        let start = Timestamp.startOf(day: CivilDate(parsing: "2026-11-27")!.daysSinceEpoch).adding(milliseconds: -30_000)
        var (h, node) = harness(budget: Budget(amountMicros: 30_000_000, period: .day), at: start)
        h.register("m", cpu: 8_000, memory: 64 << 30, prices: Prices(cpuHourMicros: price("1800")))
        var random = SplitMix64(seed: seed)
        var admitted = 0, refused = 0
        for _ in 0..<400 {
            switch random.next() % 6 {
            case 0, 1:
                let candidate = spec(seconds: Int64(random.next() % 8 + 1), tasks: Int(random.next() % 3 + 1))
                let estimate = try #require(h.state.estimate(candidate, now: h.now).totalMicros)
                let status = h.state.budgetStatus(of: "ml", now: h.now)!
                let fits = estimate <= status.availableMicros && !status.exhausted
                let why = refusal(&h, candidate)
                // then a job is refused exactly when it does not fit,
                #expect((why == nil) == fits, "estimate \(estimate), available \(status.availableMicros): \(why ?? "admitted")")
                if why == nil { admitted += 1 } else { refused += 1 }
            case 2:
                _ = h.lease(random.next() % 2 == 0 ? node : NodeID(2), limit: Int(random.next() % 4 + 1))
            case 3:
                for attempt in h.state.activeAttempts.values.sorted(by: { $0.id < $1.id }) where random.next() % 4 == 0 {
                    h.report(attempt.id, .succeeded, exitCode: 0)
                }
            case 4:
                let live = h.state.jobs.values.filter { !$0.record.state.isTerminal }.map(\.record.id).sorted()
                if let id = live.randomElement(using: &random), random.next() % 3 == 0 { try h.cancel(id) }
            default:
                // A task that would run past its expected duration in the next second ends now.
                for attempt in h.state.activeAttempts.values.sorted(by: { $0.id < $1.id })
                    where h.now.milliseconds(since: attempt.startedAt) + 1_000 > h.job(attempt.task.job).record.spec.expectedDurationMilliseconds! {
                    h.report(attempt.id, .succeeded, exitCode: 0)
                }
                h.book(every: 1_000, times: 1)
            }
            // and at every step, spent + reserved stays within the budget, and the reservation is
            // the sum over the jobs that can still spend of their estimate less their cost.
            let status = h.state.budgetStatus(of: "ml", now: h.now)!
            #expect(status.spentMicros + status.reservedMicros <= status.budget.amountMicros,
                    "spent \(status.spentMicros) + reserved \(status.reservedMicros)")
            let expected = h.state.jobs.values.filter { !$0.record.state.isTerminal || $0.running > 0 }
                .reduce(Int64(0)) { $0 + max(0, ($1.estimateMicros ?? 0) - $1.costMicros) }
            #expect(status.reservedMicros == expected)
        }
        #expect(admitted > 10 && refused > 0, "the stream exercised both: \(admitted) admitted, \(refused) refused")
    }
}
