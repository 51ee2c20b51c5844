// What ProcessRunner.swift starts and how a process ended (see that file for why it is hand-written).

import Foundation
import Glibc

/// How to start one process: what to run, with which environment, where, and where its output goes.
public struct ProcessLaunch: Sendable {
    /// The program and its arguments; `argv[0]` is looked up in PATH unless it contains "/".
    ///
    /// PATH is taken from `environment` if it has one, else from the agent's own environment.
    /// Relative PATH entries (and the empty entry, meaning ".") are resolved against `workingDirectory`,
    /// as the child would see them. A relative `argv[0]` containing "/" is resolved against
    /// `workingDirectory` too, because the child changes directory before it executes.
    public var argv: [String]
    /// The complete environment of the child; nothing is inherited from the agent (the caller merges).
    public var environment: [String: String]
    /// The directory the child starts in; it must exist.
    public var workingDirectory: String
    /// The file that receives both stdout and stderr (created if missing, opened with O_APPEND); stdin is /dev/null.
    ///
    /// A relative path is resolved against the agent's current directory, not `workingDirectory`.
    public var outputPath: String

    /// Creates a launch description.
    public init(argv: [String], environment: [String: String], workingDirectory: String, outputPath: String) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.outputPath = outputPath
    }
}

/// How a process ended, and what it cost.
public struct ProcessExit: Sendable, Equatable {
    /// The exit status, if the process exited normally.
    public var exitCode: Int32?
    /// The signal number, if the process was killed by a signal.
    public var signal: Int32?
    /// Peak resident set size in bytes (ru_maxrss from wait4, which Linux reports in KiB).
    ///
    /// Linux caveat: the kernel folds the spawning process's own high-water RSS into the child's
    /// maxrss when the child executes (the child starts out sharing or copying the parent's memory),
    /// so this is never less than roughly the agent's own peak RSS.
    public var peakRSSBytes: Int64
    /// Wall-clock time from just before the spawn until the exit was observed, in milliseconds.
    public var wallMilliseconds: Int64

    /// Creates an exit value.
    public init(exitCode: Int32?, signal: Int32?, peakRSSBytes: Int64, wallMilliseconds: Int64) {
        self.exitCode = exitCode
        self.signal = signal
        self.peakRSSBytes = peakRSSBytes
        self.wallMilliseconds = wallMilliseconds
    }
}

/// A process could not be started; `description` says what failed and why.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    /// The program that was to be started (argv[0] as given).
    public var executable: String
    /// The errno value behind the failure, if it came from a system call.
    public var errno: Int32?
    /// The full human-readable explanation.
    public var description: String

    /// Creates a spawn error.
    public init(executable: String, errno: Int32?, description: String) {
        self.executable = executable
        self.errno = errno
        self.description = description
    }

    /// "cannot start 'EXE': STRERROR (DETAIL)".
    static func cannotStart(_ executable: String, errno code: Int32, detail: String? = nil) -> SpawnError {
        var text = "cannot start '\(executable)': \(String(cString: strerror(code)))"
        if let detail { text += " (\(detail))" }
        return SpawnError(executable: executable, errno: code, description: text)
    }
}
