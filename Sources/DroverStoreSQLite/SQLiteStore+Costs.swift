import DroverCore
import DroverStore
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: - Costs

    static func costHistory(_ db: Database) throws -> CostHistory {
        var history = CostHistory()
        history.lastLedgerID = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM ledger") ?? 0
        let latest = try Int64.fetchOne(db, sql: "SELECT MAX(to_ms) FROM ledger") ?? 0
        let firstDay = Timestamp(milliseconds: latest).day - CostHistory.daysKept
        for row in try Row.fetchAll(db, sql: """
            SELECT team, to_ms / 86400000 AS day, SUM(amount_micros) AS micros FROM ledger WHERE to_ms >= ? GROUP BY team, day
            """, arguments: [Timestamp.startOf(day: firstDay).milliseconds]) {
            history.recentSpend.append((team: row["team"], day: row["day"], micros: row["micros"]))
        }
        history.reversedLedgerEntries = Set(try Int64.fetchAll(db, sql: "SELECT reverses FROM ledger WHERE reverses IS NOT NULL"))
        history.alerts = try Row.fetchAll(db, sql: "SELECT * FROM budget_alerts WHERE period_start_day >= ? ORDER BY id",
                                          arguments: [firstDay - 31]).map(Self.alert)
        for row in try Row.fetchAll(db, sql: """
            SELECT job_id, SUM(cost_micros) AS cost FROM attempts WHERE state NOT IN ('succeeded', 'running') GROUP BY job_id
            """) {
            history.jobWaste[JobID(row["job_id"])] = row["cost"] ?? 0
        }
        return history
    }

    public func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> [CostLine] {
        let key = switch grouping {
        case .team: "l.team"
        case .job: "l.job_id"
        case .node: "l.node_id"
        case .day: "l.to_ms / 86400000"
        }
        return try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(key) AS key,
                       SUM(CASE WHEN a.state = 'succeeded' THEN l.amount_micros ELSE 0 END) AS succeeded,
                       SUM(CASE WHEN a.state IS NULL OR a.state = 'running' THEN l.amount_micros ELSE 0 END) AS running,
                       SUM(CASE WHEN a.state NOT IN ('succeeded', 'running') THEN l.amount_micros ELSE 0 END) AS wasted,
                       COUNT(DISTINCT l.attempt_id) AS attempts
                FROM ledger l LEFT JOIN attempts a ON a.id = l.attempt_id
                WHERE l.to_ms >= ? AND l.to_ms < ? AND (? IS NULL OR l.team = ?)
                GROUP BY key ORDER BY key
                """, arguments: [since.milliseconds, until.milliseconds, team, team]).map { row in
                let key: String = switch grouping {
                case .team: row["key"]
                case .job: JobID(row["key"] as Int64).description
                case .node: NodeID(row["key"] as Int64).description
                case .day: CivilDate(day: row["key"]).description
                }
                return CostLine(key: key, succeededMicros: row["succeeded"], wastedMicros: row["wasted"],
                                runningMicros: row["running"], attempts: row["attempts"])
            }
        }
    }

    public func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM ledger WHERE id > ? AND (? IS NULL OR attempt_id = ?) AND (? IS NULL OR team = ?) ORDER BY id LIMIT ?
                """, arguments: [after, attempt?.rawValue, attempt?.rawValue, team, team, limit]).map(Self.ledgerEntry)
        }
    }

    public func ledgerEntry(_ id: Int64) async throws -> LedgerEntry? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM ledger WHERE id = ?", arguments: [id]).map(Self.ledgerEntry) }
    }

    public func alerts(team: String?, limit: Int) async throws -> [BudgetAlert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM budget_alerts WHERE (? IS NULL OR team = ?) ORDER BY id DESC LIMIT ?",
                             arguments: [team, team, limit]).reversed().map(Self.alert)
        }
    }

}
