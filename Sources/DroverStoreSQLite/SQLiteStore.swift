import DroverCore
import DroverStore
import Foundation
import GRDB

/// The embedded default store: one SQLite file in WAL mode.
///
/// `synchronous=FULL` makes every committed batch survive a power cut as well as a
/// `kill -9`; the coordinator's group commit keeps the fsync cost per request small.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    /// Where the database file lives.
    public let path: String

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    public init(path: String, synchronous: Synchronous = .full) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// SQLite's `synchronous` setting: `full` survives power loss, `normal` survives process crashes.
    public enum Synchronous: String, Sendable { case full = "FULL", normal = "NORMAL" }

    // MARK: - Writes

    public func apply(_ mutations: [Mutation]) async throws {
        guard !mutations.isEmpty else { return }
        try await pool.write { db in
            var statements = BatchStatements()
            for mutation in mutations {
                try Self.apply(mutation, in: db, statements: &statements)
            }
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The statements of the hot rows, looked up in GRDB's cache once per batch rather than
    /// once per row (each lookup hashes the SQL text).
    private struct BatchStatements {
        private var statements: [Statement?] = Array(repeating: nil, count: 5)

        mutating func get(_ slot: Int, _ db: Database, _ sql: String) throws -> Statement {
            if let statement = statements[slot] { return statement }
            let statement = try db.cachedStatement(sql: sql)
            statements[slot] = statement
            return statement
        }
    }

    static let updateJobSQL = "UPDATE jobs SET state = ?, next_unstarted = ?, started_at = ?, ended_at = ?, reason = ? WHERE id = ?"
    static let putTaskSQL = """
        INSERT OR REPLACE INTO tasks (job_id, idx, state, failures, lost, attempts, current_attempt, not_before)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let putAttemptSQL = """
        INSERT OR REPLACE INTO attempts (id, job_id, idx, number, node_id, state, millicores, memory_bytes, gpus, gpu_indices,
            started_at, ended_at, exit_code, signal, peak_rss_bytes, cost_micros, progress, reason, meter)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let appendEventSQL = "INSERT INTO events (at, subject, job_id, from_state, to_state, reason, actor) VALUES (?, ?, ?, ?, ?, ?, ?)"
    static let appendLedgerSQL = """
        INSERT INTO ledger (id, attempt_id, team, job_id, node_id, resource, quantity, rate_micros, amount_micros, from_ms, to_ms, reverses, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    private static func apply(_ mutation: Mutation, in db: Database, statements: inout BatchStatements) throws {
        switch mutation {
        case .putJob(let job):
            // A job's row changes on every lease batch (its cursor) but its spec never does:
            // update the changing columns, and encode the spec only for a new row.
            var row = RowWriter(try statements.get(0, db, updateJobSQL))
            row.bind(job.state.rawValue)
            row.bind(job.nextUnstarted)
            row.bind(job.startedAt?.milliseconds)
            row.bind(job.endedAt?.milliseconds)
            row.bind(job.reason)
            row.bind(job.id.rawValue)
            try row.run(in: db)
            guard db.changesCount == 0 else { return }
            try db.cachedStatement(sql: """
                INSERT INTO jobs (id, name, team, kind, state, priority, task_count, next_unstarted, submitted_at, started_at,
                                  ended_at, reason, submitted_by, spec, idempotency_key)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    job.id.rawValue, job.spec.name, job.spec.team, job.spec.kind.rawValue, job.state.rawValue, job.spec.priority,
                    job.spec.taskCount, job.nextUnstarted, job.submittedAt.milliseconds, job.startedAt?.milliseconds,
                    job.endedAt?.milliseconds, job.reason, job.submittedBy, try json(job.spec), job.idempotencyKey,
                ])
        case .putTask(let task):
            var row = RowWriter(try statements.get(1, db, putTaskSQL))
            row.bind(task.ref.job.rawValue)
            row.bind(task.ref.index)
            row.bind(task.state.rawValue)
            row.bind(task.failures)
            row.bind(task.lost)
            row.bind(task.attempts)
            row.bind(task.currentAttempt?.rawValue)
            row.bind(task.notBefore?.milliseconds)
            try row.run(in: db)
        case .putAttempt(let a):
            var row = RowWriter(try statements.get(2, db, putAttemptSQL))
            row.bind(a.id.rawValue)
            row.bind(a.task.job.rawValue)
            row.bind(a.task.index)
            row.bind(a.number)
            row.bind(a.node.rawValue)
            row.bind(a.state.rawValue)
            row.bind(a.allocation.millicores)
            row.bind(a.allocation.memoryBytes)
            row.bind(a.allocation.gpus)
            row.bind(a.gpuIndices.map(String.init).joined(separator: ","))
            row.bind(a.startedAt.milliseconds)
            row.bind(a.endedAt?.milliseconds)
            row.bind(a.exitCode.map { Int64($0) })
            row.bind(a.signal.map { Int64($0) })
            row.bind(a.peakRSSBytes)
            row.bind(a.costMicros)
            row.bind(a.progress)
            row.bind(a.reason)
            row.bind(a.meter.map(Self.encodeMeter))
            try row.run(in: db)
        case .putNode(let n):
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO nodes (id, name, millicores, memory_bytes, gpus, gpu_indices, labels, prices, state, registered_at, token_hash,
                                              drain_deadline, declared_prices, task_isolation)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    n.id.rawValue, n.name, n.capacity.millicores, n.capacity.memoryBytes, n.capacity.gpus,
                    n.gpuIndices.map(String.init).joined(separator: ","), try json(n.labels), try json(n.prices), n.state.rawValue,
                    n.registeredAt.milliseconds, n.tokenHash, n.drainDeadline?.milliseconds,
                    try n.declaredPrices.map { try json($0) }, n.taskIsolation.rawValue,
                ])
        case .appendEvent(let e):
            var row = RowWriter(try statements.get(3, db, appendEventSQL))
            row.bind(e.at.milliseconds)
            row.bind(e.subject)
            row.bind(e.job?.rawValue)
            row.bind(e.from)
            row.bind(e.to)
            row.bind(e.reason)
            row.bind(e.actor)
            try row.run(in: db)
        case .putToken(let t):
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO tokens (id, hash, role, team, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [t.id, t.hash, t.role.rawValue, t.team, t.createdAt.milliseconds, t.createdBy, t.revokedAt?.milliseconds])
        case .putQuota(let team, let quota):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO quotas (team, quota) VALUES (?, ?)").execute(arguments: [team, try json(quota)])
        case .appendLedger(let e):
            var row = RowWriter(try statements.get(4, db, appendLedgerSQL))
            row.bind(e.id)
            row.bind(e.attempt.rawValue)
            row.bind(e.team)
            row.bind(e.job.rawValue)
            row.bind(e.node.rawValue)
            row.bind(e.resource.rawValue)
            row.bind(e.quantity)
            row.bind(e.rateMicros)
            row.bind(e.amountMicros)
            row.bind(e.from.milliseconds)
            row.bind(e.to.milliseconds)
            row.bind(e.reverses)
            row.bind(e.note)
            try row.run(in: db)
        case .appendAlert(let a):
            try db.cachedStatement(sql: """
                INSERT INTO budget_alerts (team, level, at, period_start_day, spent_micros, budget_micros, message) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [a.team, a.level.rawValue, a.at.milliseconds, a.periodStartDay, a.spentMicros, a.budgetMicros, a.message])
        case .appendLog(let attempt, let offset, let data):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO logs (attempt_id, offset, data) VALUES (?, ?, ?)")
                .execute(arguments: [attempt.rawValue, offset, Data(data)])
        case .putWebhook, .removeWebhook, .putDelivery, .appendDeliveryTry:
            try applyWebhook(mutation, in: db)
        }
    }

    // MARK: - Reads

    public func load() async throws -> StoredState {
        try await pool.read { db in
            let decoder = JSONDecoder()
            let jobs = try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY id").map { row -> JobRecord in
                let spec = try decoder.decode(JobSpec.self, from: Data((row["spec"] as String).utf8))
                return JobRecord(
                    id: JobID(row["id"]), spec: spec, state: try Self.enumValue(row["state"]), submittedAt: Timestamp(milliseconds: row["submitted_at"]),
                    startedAt: (row["started_at"] as Int64?).map(Timestamp.init), endedAt: (row["ended_at"] as Int64?).map(Timestamp.init),
                    nextUnstarted: row["next_unstarted"], reason: row["reason"], submittedBy: row["submitted_by"],
                    idempotencyKey: row["idempotency_key"])
            }
            // Rows of finished jobs stay here (counted); memory holds the rest (`holdsTaskRows`).
            let terminal = JobState.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ", ")
            var finishedCounts: [JobID: FinishedTaskCounts] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT t.job_id, t.state, COUNT(*) AS n FROM tasks t JOIN jobs j ON j.id = t.job_id
                WHERE j.state IN (\(terminal)) AND t.job_id NOT IN (SELECT job_id FROM tasks WHERE state = 'running')
                GROUP BY t.job_id, t.state
                """) {
                finishedCounts[JobID(row["job_id"]), default: FinishedTaskCounts()].add(try Self.enumValue(row["state"]), count: row["n"])
            }
            let tasks = try Row.fetchAll(db, sql: """
                SELECT * FROM tasks WHERE job_id IN (SELECT id FROM jobs WHERE state NOT IN (\(terminal)))
                   OR job_id IN (SELECT job_id FROM tasks WHERE state = 'running')
                """).map { row in
                TaskRecord(
                    ref: TaskRef(job: JobID(row["job_id"]), index: row["idx"]), state: try Self.enumValue(row["state"]),
                    failures: row["failures"], lost: row["lost"], attempts: row["attempts"],
                    currentAttempt: (row["current_attempt"] as Int64?).map(AttemptID.init),
                    notBefore: (row["not_before"] as Int64?).map(Timestamp.init))
            }
            let active = try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE state = 'running' ORDER BY id").map(Self.attempt)
            let nodes = try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id").map { row in
                var node = NodeRecord(
                    id: NodeID(row["id"]), name: row["name"],
                    capacity: Resources(millicores: row["millicores"], memoryBytes: row["memory_bytes"], gpus: row["gpus"]),
                    gpuIndices: Self.indices(row["gpu_indices"]),
                    labels: try decoder.decode([String: String].self, from: Data((row["labels"] as String).utf8)),
                    prices: try decoder.decode(Prices.self, from: Data((row["prices"] as String).utf8)),
                    state: try Self.enumValue(row["state"]), registeredAt: Timestamp(milliseconds: row["registered_at"]),
                    tokenHash: row["token_hash"])
                node.drainDeadline = (row["drain_deadline"] as Int64?).map(Timestamp.init)
                node.declaredPrices = try (row["declared_prices"] as String?).map { try decoder.decode(Prices.self, from: Data($0.utf8)) }
                // Nodes stored before 008 registered before agents said: as old agents, `none`.
                node.taskIsolation = try (row["task_isolation"] as String?).map { text throws in try Self.enumValue(text) } ?? .shared
                return node
            }
            let lastAttempt = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM attempts") ?? 0
            var costs: [JobID: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT job_id, SUM(cost_micros) AS cost FROM attempts GROUP BY job_id") {
                costs[JobID(row["job_id"])] = row["cost"] ?? 0
            }
            var state = StoredState(jobs: jobs, tasks: tasks, activeAttempts: active, nodes: nodes, jobCosts: costs, lastAttemptID: lastAttempt)
            state.finishedTaskCounts = finishedCounts
            state.tokens = try Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY id").map { row in
                TokenRecord(id: row["id"], hash: row["hash"], role: try Self.enumValue(row["role"]), team: row["team"],
                            createdAt: Timestamp(milliseconds: row["created_at"]), createdBy: row["created_by"],
                            revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.init))
            }
            for row in try Row.fetchAll(db, sql: "SELECT team, quota FROM quotas") {
                state.quotas[row["team"]] = try decoder.decode(Quota.self, from: Data((row["quota"] as String).utf8))
            }
            state.costs = try Self.costHistory(db)
            state.webhooks = try Self.webhooks(db)
            return state
        }
    }

    public func attempts(of job: JobID) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE job_id = ? ORDER BY id", arguments: [job.rawValue]).map(Self.attempt)
        }
    }

    public func attempts(of task: TaskRef) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE job_id = ? AND idx = ? ORDER BY id",
                             arguments: [task.job.rawValue, task.index]).map(Self.attempt)
        }
    }

    public func attempt(_ id: AttemptID) async throws -> AttemptRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM attempts WHERE id = ?", arguments: [id.rawValue]).map(Self.attempt)
        }
    }

    public func jobIDs(team: String?, state: JobState?, before: JobID?, limit: Int) async throws -> [JobID] {
        try await pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM jobs WHERE (?1 IS NULL OR team = ?1) AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR id < ?3)
                ORDER BY id DESC LIMIT ?4
                """, arguments: [team, state?.rawValue, before?.rawValue, limit]).map(JobID.init)
        }
    }

    public func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int) {
        try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE job_id = ?", arguments: [job.rawValue]) ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM events WHERE job_id = ? ORDER BY id DESC LIMIT ?", arguments: [job.rawValue, limit])
            return (rows.reversed().map(Self.event), total)
        }
    }

    public func nodeEvents(limit: Int) async throws -> [Event] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events WHERE subject LIKE 'node/%' ORDER BY id DESC LIMIT ?", arguments: [limit])
                .reversed().map(Self.event)
        }
    }

    public func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT offset, data FROM logs WHERE attempt_id = ? AND offset + length(data) > ? ORDER BY offset
                """, arguments: [attempt.rawValue, offset])
            var output: [UInt8] = []
            var position = offset
            for row in rows {
                let start: Int64 = row["offset"]
                let data: Data = row["data"]
                guard start <= position else { break } // a gap: the rest has not arrived yet
                let skip = Int(position - start)
                guard skip < data.count else { continue }
                output.append(contentsOf: data.dropFirst(skip))
                position = start + Int64(data.count)
                if output.count >= maxBytes { break }
            }
            return Array(output.prefix(maxBytes))
        }
    }

}

/// A store failure that is not SQLite's own.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
