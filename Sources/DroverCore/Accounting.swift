/// The books: ledger row ids, booked spend per team and UTC day, what admitted jobs reserve of
/// their team's budget, budget alerts already raised and ledger rows already reversed. What is booked and when is decided by the metering
/// operations of ``ClusterState``; this part keeps the sums they need.
public struct Accounting: Sendable {
    /// Id of the last cost-ledger row.
    public private(set) var lastLedgerID: Int64 = 0
    /// Booked spend per team per UTC day (days since 1970-01-01), recent days only: what budgets count.
    public private(set) var dailySpend: [String: [Int64: Int64]] = [:]
    /// Per team, the estimates of its admitted jobs not yet spent (see
    /// ``ClusterState/settleReservation(of:)``): derived from live jobs, never persisted.
    public private(set) var reservedMicros: [String: Int64] = [:]
    /// Budget alerts already raised, so each is raised once per period and budget amount.
    private var raisedAlerts: Set<AlertKey> = []
    /// Ledger rows already reversed (each can be reversed once).
    public private(set) var reversedLedgerEntries: Set<Int64> = []

    init(history: CostHistory = CostHistory()) {
        lastLedgerID = history.lastLedgerID
        reversedLedgerEntries = history.reversedLedgerEntries
        for spend in history.recentSpend { dailySpend[spend.team, default: [:]][spend.day, default: 0] += spend.micros }
        for alert in history.alerts { raisedAlerts.insert(AlertKey(team: alert.team, level: alert.level, periodStartDay: alert.periodStartDay, budgetMicros: alert.budgetMicros)) }
    }

    /// The id of a new ledger row.
    mutating func nextLedgerID() -> Int64 {
        lastLedgerID += 1
        return lastLedgerID
    }

    /// Adds `micros` to `team`'s spend on `day`, forgetting days budgets no longer look at.
    mutating func addSpend(_ micros: Int64, team: String, day: Int64) {
        // Changed in place: a copy of the team's days per booking would allocate on every report.
        if dailySpend[team]?[day] == nil, (dailySpend[team]?.count ?? 0) >= Int(CostHistory.daysKept) {
            dailySpend[team] = dailySpend[team]!.filter { $0.key > day - CostHistory.daysKept }
        }
        dailySpend[team, default: [:]][day, default: 0] += micros
    }

    /// Changes what `team`'s admitted jobs reserve of its budget by `micros`.
    mutating func reserve(_ micros: Int64, team: String) {
        guard micros != 0 else { return }
        let held = (reservedMicros[team] ?? 0) + micros
        reservedMicros[team] = held == 0 ? nil : held
    }

    /// Where `team` stands against `budget` in the period containing `now`; nil without a budget.
    func status(of team: String, budget: Budget?, now: Timestamp) -> BudgetStatus? {
        guard let budget else { return nil }
        let today = now.day
        let first = budget.period.firstDay(containing: today)
        let spent = (dailySpend[team] ?? [:]).reduce(Int64(0)) { $1.key >= first && $1.key <= today ? $0 + $1.value : $0 }
        return BudgetStatus(budget: budget, spentMicros: spent, reservedMicros: reservedMicros[team] ?? 0, periodStart: CivilDate(day: first),
                            resets: CivilDate(day: budget.period.nextFirstDay(after: today)))
    }

    /// Notes that an alert is raised; false when it already was this period for this budget
    /// amount. Keyed by the amount so that a budget changed mid-period re-arms its alerts.
    mutating func noteAlert(team: String, level: BudgetAlert.Level, periodStartDay: Int64, budgetMicros: Int64) -> Bool {
        raisedAlerts.insert(AlertKey(team: team, level: level, periodStartDay: periodStartDay, budgetMicros: budgetMicros)).inserted
    }

    /// Notes that ledger row `id` is reversed; false when it already was.
    @discardableResult
    mutating func noteReversal(of id: Int64) -> Bool {
        reversedLedgerEntries.insert(id).inserted
    }
}

struct AlertKey: Hashable, Sendable {
    var team: String
    var level: BudgetAlert.Level
    var periodStartDay: Int64
    var budgetMicros: Int64
}
