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
    /// Whom the process runs as; nil: the agent's own uid.
    public var user: ProcessUser?

    /// Creates a launch description.
    public init(argv: [String], environment: [String: String], workingDirectory: String, outputPath: String, user: ProcessUser? = nil) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.outputPath = outputPath
        self.user = user
    }
}

/// An unprivileged uid and gid to run a process as, switched to by `setpriv`, which then
/// executes the program itself (so the pid, session and process group stay the program's).
///
/// posix_spawn cannot change the child's credentials, and forking in Swift to call setresuid
/// before exec is not safe in a multithreaded process.
public struct ProcessUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Path of util-linux's setpriv.
    public var setpriv: String

    public init(uid: UInt32, gid: UInt32, setpriv: String) {
        (self.uid, self.gid, self.setpriv) = (uid, gid, setpriv)
    }

    /// The setpriv arguments that run `argv` as this user: no supplementary groups, no
    /// capabilities. setpriv looks `argv[0]` up in the child's PATH as execvp does, so the
    /// program keeps its argv[0].
    func argv(running argv: [String]) -> [String] {
        [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--inh-caps=-all", "--"] + argv
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
