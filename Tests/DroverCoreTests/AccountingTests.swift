@testable import DroverCore
import Testing

/// The books alone: ledger ids, spend per day and period, alerts and reversals once.
@Suite struct AccountingTests {
    @Test func spendIsSummedOverTheBudgetPeriodAndOldDaysAreForgotten() {
        var books = Accounting(history: CostHistory(recentSpend: [(team: "ml", day: 20_000, micros: 5)], lastLedgerID: 7))
        let id = books.nextLedgerID()
        #expect(id == 8 && books.lastLedgerID == 8)
        for day in Int64(20_001)...20_060 { books.addSpend(10, team: "ml", day: day) }
        #expect(books.dailySpend["ml"]!.count <= Int(CostHistory.daysKept))
        let budget = Budget(amountMicros: 100, period: .day)
        let status = books.status(of: "ml", budget: budget, now: Timestamp.startOf(day: 20_060))
        #expect(status?.spentMicros == 10 && status?.exhausted == false)
        #expect(books.status(of: "ml", budget: nil, now: Timestamp.startOf(day: 20_060)) == nil)
    }

    @Test func alertsAndReversalsAreNotedOnce() {
        var books = Accounting()
        let first = books.noteAlert(team: "ml", level: .soft, periodStartDay: 1, budgetMicros: 100)
        let again = books.noteAlert(team: "ml", level: .soft, periodStartDay: 1, budgetMicros: 100)
        let nextPeriod = books.noteAlert(team: "ml", level: .soft, periodStartDay: 2, budgetMicros: 100)
        let raisedBudget = books.noteAlert(team: "ml", level: .soft, periodStartDay: 2, budgetMicros: 200)
        #expect(first && !again && nextPeriod && raisedBudget)
        let reversed = books.noteReversal(of: 3)
        let reversedAgain = books.noteReversal(of: 3)
        #expect(reversed && !reversedAgain)
        #expect(books.reversedLedgerEntries == [3])
    }
}
