import DroverCore
import DroverStore
import GRDB

extension SQLiteStore {
    public func rewriteSpecs(_ specs: [JobID: JobSpec]) async throws {
        guard !specs.isEmpty else { return }
        try await pool.write { db in
            for (id, spec) in specs {
                try db.execute(sql: "UPDATE jobs SET spec = ? WHERE id = ?", arguments: [try Self.json(spec), id.rawValue])
            }
        }
        // The old text stays in freed space and in WAL frames until overwritten: VACUUM
        // rewrites every page of the file, the checkpoint copies them back and empties the WAL.
        try await pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "VACUUM")
            try db.checkpoint(.truncate)
        }
    }
}
