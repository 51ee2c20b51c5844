import Foundation

/// Another process (python3's sqlite3) holding a database's write lock (`BEGIN IMMEDIATE`)
/// until `release()`: a store that refuses writes, for drills of the 503 path.
public final class SQLiteWriteLock: @unchecked Sendable {
    private let holder = Process()

    /// Returns once the lock is held.
    public init(database path: String) throws {
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            c.execute('BEGIN IMMEDIATE')
            print('locked', flush=True)
            sys.stdin.read()
            """, path]
        let output = Pipe()
        holder.standardOutput = output
        holder.standardInput = Pipe()
        try holder.run()
        guard String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked") else {
            release()
            throw TestClusterError("python3 could not take the write lock of \(path)")
        }
    }

    /// Ends the holder (and with it the lock).
    public func release() {
        if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }
        holder.waitUntilExit()
    }

    deinit { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
}
