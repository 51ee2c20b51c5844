import DroverCore
import DroverStore
import Foundation
import GRDB

// Webhooks, their outbox of deliveries and the delivery log (migration 009); the event log of streams.
extension SQLiteStore {
    static func applyWebhook(_ mutation: Mutation, in db: Database) throws {
        switch mutation {
        case .putWebhook(let hook):
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO webhooks (id, url, events, team, sealed_secret, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [hook.id, hook.url, hook.events.joined(separator: ","), hook.team, hook.sealedSecret,
                                         hook.createdAt.milliseconds, hook.createdBy])
        case .removeWebhook(let id):
            try db.cachedStatement(sql: "DELETE FROM webhooks WHERE id = ?").execute(arguments: [id])
        case .putDelivery(let d):
            // Updated in place, so a delivery keeps its place (seq) in the log.
            try db.cachedStatement(sql: """
                INSERT INTO webhook_deliveries (id, webhook_id, type, payload, created_at, state, tries, next_try, last_status, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET state = excluded.state, tries = excluded.tries, next_try = excluded.next_try,
                    last_status = excluded.last_status, last_error = excluded.last_error
                """).execute(arguments: [d.id, d.webhook, d.type, d.payload, d.createdAt.milliseconds, d.state.rawValue, d.tries,
                                         d.nextTry?.milliseconds, d.lastStatus, d.lastError])
        case .appendDeliveryTry(let t):
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO webhook_tries (delivery_id, number, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [t.delivery, t.number, t.at.milliseconds, t.status, t.error, t.durationMilliseconds])
        default:
            throw StoreError("not a webhook mutation: \(mutation)")
        }
    }

    static func webhooks(_ db: Database) throws -> [WebhookRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM webhooks ORDER BY id").map { row in
            WebhookRecord(id: row["id"], url: row["url"], events: (row["events"] as String).split(separator: ",").map(String.init),
                          team: row["team"], sealedSecret: row["sealed_secret"], createdAt: Timestamp(milliseconds: row["created_at"]),
                          createdBy: row["created_by"])
        }
    }

    static func delivery(_ row: Row) throws -> DeliveryRecord {
        DeliveryRecord(id: row["id"], webhook: row["webhook_id"], type: row["type"], payload: row["payload"],
                       createdAt: Timestamp(milliseconds: row["created_at"]), state: try enumValue(row["state"]), tries: row["tries"],
                       nextTry: (row["next_try"] as Int64?).map(Timestamp.init), lastStatus: row["last_status"], lastError: row["last_error"])
    }

    public func eventLog(after: Int64?, before: Int64?, job: JobID?, team: String?, limit: Int) async throws -> [StoredEvent] {
        try await pool.read { db in
            let filter = """
                (?1 IS NULL OR e.job_id = ?1)
                AND (?2 IS NULL OR e.job_id IN (SELECT id FROM jobs WHERE team = ?2))
                """
            let rows: [Row]
            if let after {
                rows = try Row.fetchAll(db, sql: "SELECT e.* FROM events e WHERE \(filter) AND e.id > ?3 ORDER BY e.id LIMIT ?4",
                                        arguments: [job?.rawValue, team, after, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT e.* FROM events e WHERE \(filter) AND (?3 IS NULL OR e.id < ?3) ORDER BY e.id DESC LIMIT ?4",
                                        arguments: [job?.rawValue, team, before, limit]).reversed()
            }
            return rows.map { StoredEvent(id: $0["id"], event: Self.event($0)) }
        }
    }

    public func deliveries(webhook: String?, limit: Int) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM webhook_deliveries WHERE (?1 IS NULL OR webhook_id = ?1) ORDER BY seq DESC LIMIT ?2",
                             arguments: [webhook, limit]).map(Self.delivery)
        }
    }

    public func delivery(_ id: String) async throws -> DeliveryRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM webhook_deliveries WHERE id = ?", arguments: [id]).map(Self.delivery)
        }
    }

    public func dueDeliveries(by now: Timestamp, limit: Int) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_try <= ? ORDER BY next_try, seq LIMIT ?
                """, arguments: [now.milliseconds, limit]).map(Self.delivery)
        }
    }

    public func nextDeliveryDue() async throws -> Timestamp? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(next_try) FROM webhook_deliveries WHERE state = 'pending'").map(Timestamp.init)
        }
    }

    public func deliveryTries(of delivery: String) async throws -> [DeliveryTry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM webhook_tries WHERE delivery_id = ? ORDER BY number", arguments: [delivery]).map { row in
                DeliveryTry(delivery: row["delivery_id"], number: row["number"], at: Timestamp(milliseconds: row["at"]), status: row["status"],
                            error: row["error"], durationMilliseconds: row["duration_ms"])
            }
        }
    }
}
