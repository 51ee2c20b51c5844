import DroverCore
import DroverStore
import DroverStoreSQLite
import Foundation
import GRDB
import Testing

/// The cost ledger in every store: rows, reports over them, alerts, and what a restart needs.
@Suite struct LedgerStoreTests {
    static func row(_ id: Int64, attempt: Int64, team: String = "ml", job: Int64 = 1, node: Int64 = 1, resource: CostResource = .cpu,
                    amount: Int64, to seconds: Int64, reverses: Int64? = nil) -> LedgerEntry {
        LedgerEntry(id: id, attempt: AttemptID(attempt), team: team, job: JobID(job), node: NodeID(node), resource: resource, quantity: 1500,
                    rateMicros: 48_000, amountMicros: amount, from: at(seconds - 60), to: at(seconds), reverses: reverses,
                    note: reverses == nil ? nil : "bad node (by admin)")
    }

    /// Attempts 1 (succeeded), 2 (failed) of team ml, job 1; attempt 3 (running) of team cv, job 2 on node 2.
    static func populated(_ kind: StoreKind) async throws -> any Store {
        let store = try kind.make()
        var running = sampleAttempt(3, job: 2, node: 2)
        running.meter = CostMeter(prices: Prices(cpuHourMicros: 48_000), since: at(10))
        running.meter!.bookedUntilMilliseconds = at(70).milliseconds
        running.meter!.bookedInSegment = [1_200, 0, 0]
        var cv = sampleJob(2, state: .running)
        cv.spec.team = "cv"
        try await store.apply([
            .putJob(sampleJob(1, state: .running)), .putJob(cv), .putNode(sampleNode(1)), .putNode(sampleNode(2)),
            .putAttempt(sampleAttempt(1, state: .succeeded, cost: 300)), .putAttempt(sampleAttempt(2, index: 1, state: .failed, cost: 50)),
            .putAttempt(running),
            .appendLedger(row(1, attempt: 1, amount: 100, to: 60)), .appendLedger(row(2, attempt: 1, resource: .memory, amount: 200, to: 60)),
            .appendLedger(row(3, attempt: 2, amount: 70, to: 120)), .appendLedger(row(4, attempt: 2, amount: -20, to: 120, reverses: 3)),
            .appendLedger(row(5, attempt: 3, team: "cv", job: 2, node: 2, amount: 1_200, to: 86_400 + 70)),
            .appendAlert(BudgetAlert(team: "ml", level: .soft, at: at(120), periodStartDay: at(120).day, spentMicros: 350, budgetMicros: 400,
                                     message: "team ml reached 80 %")),
        ])
        return store
    }

    @Test(arguments: StoreKind.allCases)
    func reportsGroupTheRowsAndSplitThemByOutcome(kind: StoreKind) async throws {
        let store = try await Self.populated(kind)
        let all = (Timestamp(milliseconds: 0), Timestamp(milliseconds: Int64.max / 2))
        let teams = try await store.costReport(by: .team, since: all.0, until: all.1, team: nil)
        #expect(teams == [CostLine(key: "cv", runningMicros: 1_200, attempts: 1),
                          CostLine(key: "ml", succeededMicros: 300, wastedMicros: 50, attempts: 2)])
        let jobs = try await store.costReport(by: .job, since: all.0, until: all.1, team: nil)
        #expect(jobs.map(\.key) == ["1", "2"] && jobs.map(\.totalMicros) == [350, 1_200])
        let nodes = try await store.costReport(by: .node, since: all.0, until: all.1, team: "ml")
        #expect(nodes.map(\.key) == [NodeID(1).description] && nodes[0].totalMicros == 350)
        let days = try await store.costReport(by: .day, since: all.0, until: all.1, team: nil)
        #expect(days.map(\.key) == [CivilDate(day: at(60).day).description, CivilDate(day: at(86_470).day).description])
        // Rows count by when they were booked: [60 s, 121 s) holds rows 1-4 only.
        let window = try await store.costReport(by: .team, since: at(60), until: at(121), team: nil)
        #expect(window.map(\.key) == ["ml"] && window[0].totalMicros == 350)
        #expect(try await store.costReport(by: .team, since: at(61), until: at(120), team: nil).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func rowsAlertsAndTheRestartHistoryReadBack(kind: StoreKind) async throws {
        let store = try await Self.populated(kind)
        #expect(try await store.ledger(attempt: nil, team: nil, after: 0, limit: 10).map(\.id) == [1, 2, 3, 4, 5])
        #expect(try await store.ledger(attempt: AttemptID(2), team: nil, after: 0, limit: 10) == [Self.row(3, attempt: 2, amount: 70, to: 120),
                                                                                              Self.row(4, attempt: 2, amount: -20, to: 120, reverses: 3)])
        #expect(try await store.ledger(attempt: nil, team: "ml", after: 2, limit: 1).map(\.id) == [3])
        #expect(try await store.ledgerEntry(5)?.amountMicros == 1_200)
        #expect(try await store.ledgerEntry(6) == nil)
        #expect(try await store.alerts(team: "ml", limit: 10).map(\.message) == ["team ml reached 80 %"])
        #expect(try await store.alerts(team: "cv", limit: 10).isEmpty)
        let loaded = try await store.load()
        #expect(loaded.costs.lastLedgerID == 5 && loaded.costs.reversedLedgerEntries == [3])
        #expect(loaded.costs.jobWaste[JobID(1)] == 50)
        let spend = Dictionary(grouping: loaded.costs.recentSpend, by: \.team).mapValues { $0.reduce(0) { $0 + $1.micros } }
        #expect(spend == ["ml": 350, "cv": 1_200])
        #expect(loaded.costs.alerts.count == 1)
        // The running attempt's meter survives, so booking resumes where it stopped.
        #expect(loaded.activeAttempts.first { $0.id == AttemptID(3) }?.meter?.bookedInSegment == [1_200, 0, 0])
    }

    @Test func theSQLiteLedgerRefusesUpdatesAndDeletes() async throws {
        let store = try await Self.populated(.sqlite) as! ScratchSQLiteStore
        let queue = try DatabaseQueue(path: store.path)
        #expect(throws: (any Error).self) { try queue.write { try $0.execute(sql: "UPDATE ledger SET amount_micros = 0 WHERE id = 1") } }
        #expect(throws: (any Error).self) { try queue.write { try $0.execute(sql: "DELETE FROM ledger") } }
        await #expect(throws: (any Error).self) { try await store.apply([.appendLedger(Self.row(6, attempt: 1, amount: -100, to: 60, reverses: 3))]) }
        #expect(try await store.ledger(attempt: nil, team: nil, after: 0, limit: 10).count == 5, "a second reversal of row 3 is refused")
    }
}
