import DroverAPI
import DroverCore
import Foundation
import Testing
@testable import drover

@Suite struct OutputTests {
    @Test func moneyColumnGivesEveryAmountTheDecimalsOfTheMostPreciseOne() {
        #expect(Output.moneyColumn([Decimal(string: "0.0001")!, 0, Decimal(string: "12.5")!]) == ["0.0001", "0.0000", "12.5000"])
        #expect(Output.moneyColumn([Decimal(string: "0.10")!, 3]) == ["0.10", "3.00"])
        // Rounded to at most four decimals, as a single amount is.
        #expect(Output.moneyColumn([Decimal(string: "0.000049")!, 1]) == ["0.00", "1.00"])
        #expect(Output.moneyColumn([Decimal(string: "0.000123")!, 1], maxPlaces: 6) == ["0.000123", "1.000000"])
        #expect(Output.moneyColumn([]) == [])
    }

    @Test func rightAlignedColumnsLineUpTheirLastCharacter() {
        let text = Output.table(["NAME", "COST"], [["a", "0.0001"], ["bb", "12.5000"]], rightAligned: [1])
        #expect(text == """
            NAME     COST
            a      0.0001
            bb    12.5000
            """)
    }

    @Test func theJobsTableAlignsItsCostColumn() {
        func job(_ id: String, cost: String) -> JobView {
            JobView(id: id, name: "score", team: "forecasting", kind: .batch, state: .succeeded, priority: 0,
                    tasks: TaskCounts(total: 2, queued: 0, running: 0, succeeded: 2, failed: 0, cancelled: 0), command: ["true"],
                    resources: ResourcesView(cpu: 1, memory: 1 << 30, gpu: 0), submittedAt: "2026-12-01T10:00:00Z",
                    startedAt: "2026-12-01T10:00:00Z", endedAt: "2026-12-01T10:00:30Z", submittedBy: "admin", reason: nil,
                    pendingReason: nil, cost: Decimal(string: cost)!, progress: nil, attempts: nil)
        }
        let lines = JobList.table([job("9", cost: "0.0001"), job("10", cost: "0")], now: 0).split(separator: "\n")
        #expect(lines[1].hasSuffix("30s  0.0001"))
        #expect(lines[2].hasSuffix("30s  0.0000"))
    }
}
