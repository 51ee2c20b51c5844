import GRDB
import GRDBSQLite

/// Binds and runs a prepared statement through SQLite's C API, for the rows every lease and
/// report writes (tasks, attempts, events, ledger, job cursors).
///
/// GRDB's `execute(arguments:)` boxes each value in an existential and builds an argument
/// array per row; on the journal's writer, the one serial step of every commit, that cost
/// more than SQLite itself (perf, scheduler benchmark). Binding typed values straight into
/// the statement GRDB prepared and caches keeps GRDB for everything else.
struct RowWriter {
    private let statement: Statement
    private var handle: SQLiteStatement { statement.sqliteStatement }
    private var index: Int32 = 0

    init(_ statement: Statement) {
        self.statement = statement
        sqlite3_reset(statement.sqliteStatement)
        sqlite3_clear_bindings(statement.sqliteStatement)
    }

    mutating func bind(_ value: Int64) {
        index += 1
        sqlite3_bind_int64(handle, index, value)
    }

    mutating func bind(_ value: Int) { bind(Int64(value)) }

    mutating func bind(_ value: Int64?) {
        guard let value else { return skip() }
        bind(value)
    }

    mutating func bind(_ value: Int?) { bind(value.map(Int64.init)) }

    mutating func bind(_ value: String) {
        index += 1
        var text = value
        let (handle, index) = (handle, index)
        text.withUTF8 { bytes in
            // SQLITE_TRANSIENT: SQLite copies the bytes before the call returns. An explicit
            // length keeps any NUL inside the text; an empty text must not bind as NULL.
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            if let base = bytes.baseAddress {
                _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
            } else {
                _ = sqlite3_bind_text(handle, index, "", 0, transient)
            }
        }
    }

    mutating func bind(_ value: String?) {
        guard let value else { return skip() }
        bind(value)
    }

    /// Leaves the next parameter NULL (bindings were cleared).
    mutating func skip() { index += 1 }

    /// Runs the statement once; throws SQLite's error, with the statement's SQL.
    func run(in db: Database) throws {
        precondition(Int(index) == Int(sqlite3_bind_parameter_count(handle)), "bound \(index) of \(sqlite3_bind_parameter_count(handle)) parameters: \(statement.sql)")
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: statement.sql)
        }
    }
}
