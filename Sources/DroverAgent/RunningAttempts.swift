import DroverAPI
import Logging
import Synchronization

/// The attempts this agent holds, from the moment their lease arrives until their report is
/// queued: what the heartbeat renews, and where a stop (cancel, lease gone, timeout of the
/// disconnect grace, shutdown) is recorded for the runner to see.
///
/// Asking to stop is synchronous and returns the process to terminate, so whoever decides
/// to stop (a heartbeat tick) does so at once and terminates the process without holding up
/// its own timer.
final class RunningAttempts: Sendable {
    private struct Entry {
        var lease: LeaseView
        var process: RunningProcess?
        var progressPath: String?
        /// Set at the first request to stop it; later requests do not change it.
        var stop: StopReason?
    }
    private let entries = Mutex<[String: Entry]>([:])
    /// Time between SIGTERM and SIGKILL when stopping a task.
    let killGrace: Duration
    private let logger: Logger

    init(killGrace: Duration, logger: Logger) {
        self.killGrace = killGrace
        self.logger = logger
    }

    /// How many attempts are held.
    var count: Int { entries.withLock { $0.count } }

    /// Holds a newly leased attempt (before its process starts, so a stop can already reach it).
    func add(_ lease: LeaseView) {
        entries.withLock { $0[lease.attemptId] = Entry(lease: lease) }
    }

    /// Forgets an attempt that ended.
    func remove(_ id: String) {
        entries.withLock { _ = $0.removeValue(forKey: id) }
    }

    /// Whether `id` is held.
    func holds(_ id: String) -> Bool {
        entries.withLock { $0[id] != nil }
    }

    /// The stop asked for `id`, if any.
    func stopReason(_ id: String) -> StopReason? {
        entries.withLock { $0[id]?.stop }
    }

    /// Records `id`'s process; true if a stop was asked before it started (terminate it).
    func attach(_ id: String, process: RunningProcess, progressPath: String) -> Bool {
        entries.withLock { entries in
            entries[id]?.process = process
            entries[id]?.progressPath = progressPath
            return entries[id]?.stop != nil
        }
    }

    /// Asks `id` to stop for `reason`; returns its process if it runs and was not asked before.
    func requestStop(_ id: String, _ reason: StopReason) -> RunningProcess? {
        let process = entries.withLock { entries -> RunningProcess? in
            guard entries[id] != nil, entries[id]!.stop == nil else { return nil }
            entries[id]!.stop = reason
            return entries[id]!.process
        }
        if process != nil { logger.info("stopping attempt", metadata: ["attempt.id": "\(id)", "reason": "\(reason.reason)"]) }
        return process
    }

    /// Asks every attempt not yet asked to stop; returns how many that was, and the processes.
    func requestStopAll(_ reason: StopReason) -> (count: Int, processes: [RunningProcess]) {
        entries.withLock { entries in
            var processes: [RunningProcess] = []
            var count = 0
            for id in entries.keys where entries[id]!.stop == nil {
                entries[id]!.stop = reason
                count += 1
                if let process = entries[id]!.process { processes.append(process) }
            }
            return (count, processes)
        }
    }

    /// Ids and progress files of the attempts held, for a heartbeat.
    func heartbeatEntries() -> [(id: String, progressPath: String?)] {
        entries.withLock { entries in entries.map { (id: $0.key, progressPath: $0.value.progressPath) } }
    }
}

extension RunningAttempts {
    /// Stops `id` (SIGTERM, SIGKILL after the kill grace) and waits until its process exited;
    /// a process not started yet sees the stop when it would start.
    func stop(_ id: String, _ reason: StopReason) async {
        guard let process = requestStop(id, reason) else { return }
        _ = await process.terminate(grace: killGrace)
    }

    /// Stops every attempt held, concurrently; returns how many were newly asked to stop.
    @discardableResult
    func stopAll(_ reason: StopReason) async -> Int {
        let (count, processes) = requestStopAll(reason)
        await terminate(processes)
        return count
    }

    /// Terminates `processes` concurrently and waits until all exited.
    func terminate(_ processes: [RunningProcess]) async {
        await withDiscardingTaskGroup { group in
            for process in processes { group.addTask { _ = await process.terminate(grace: self.killGrace) } }
        }
    }
}
