import DroverCore
import DroverAPI
import Foundation
import Logging

/// Runs one leased attempt: a working directory from `WorkDirectories`, the task's
/// environment, its process group, its output shipped while it runs, its timeout, a stop
/// asked through `RunningAttempts`; returns how it ended.
struct AttemptRunner: Sendable {
    let workDirectories: WorkDirectories
    let environment: TaskEnvironment
    let attempts: RunningAttempts
    let shipper: LogShipper
    let clock: any MonotonicClock
    /// Keep the checkpoints of tasks that succeeded (`--keep-work-dirs`).
    var keepWorkDirectories = false
    /// Whom attempts run as.
    var users = TaskUsers.shared
    let logger: Logger

    /// Runs `lease`'s attempt, which `attempts` holds. `ended` is called as soon as the
    /// outcome is known, before the directories are cleaned up, so its report need not wait.
    @discardableResult
    func run(_ lease: LeaseView, ended: (AttemptOutcome) -> Void) async -> AttemptOutcome {
        let user: ProcessUser?
        switch await users.acquire(clock: clock, stop: { attempts.stopReason(lease.attemptId) }) {
        case .shared: user = nil
        case .user(let acquired): user = acquired
        case .stopped(let stop):
            let outcome = AttemptOutcome(ending: .stopped(stop))
            ended(outcome)
            return outcome
        }
        // Released once the attempt's process group is gone and its directories are the agent's again.
        defer { if let user { users.release(user) } }
        let directory: String
        do {
            directory = try workDirectories.take(for: user?.uid)
        } catch {
            let outcome = AttemptOutcome(ending: .cannotStart("no working directory: \(error)"))
            ended(outcome)
            return outcome
        }
        let paths = AttemptPaths(directory: directory, checkpoints: workDirectories.checkpoints(job: lease.jobId, task: lease.task))
        let outcome = await run(lease, in: paths, as: user)
        if user != nil { workDirectories.reclaimCheckpoints(paths.checkpoints) }
        ended(outcome)
        let reusable = Self.leavesDirectoryReusable(outcome)
        // A kept directory keeps its output: with the secrets masked, as they were when shipped.
        if !reusable || keepWorkDirectories { LogShipper.maskInPlace(paths.output, secrets: LogShipper.maskedSecrets(of: lease)) }
        let kept = workDirectories.release(directory, succeeded: reusable, job: lease.jobId, task: lease.task, attempt: lease.attempt)
        workDirectories.leftovers.forget(directory, kept: kept != nil)
        if outcome.succeeded && !keepWorkDirectories {
            workDirectories.discardCheckpoints(paths.checkpoints) // the task is done: nothing to resume
        }
        return outcome
    }

    /// A success's directory is emptied for the next attempt, and so is one that a stop
    /// before the start left unused; any other is kept for inspection.
    static func leavesDirectoryReusable(_ outcome: AttemptOutcome) -> Bool {
        switch outcome.ending {
        case .succeeded: true
        case .stopped: outcome.exit == nil
        case .failed, .cannotStart, .timedOut: false
        }
    }

    private func run(_ lease: LeaseView, in paths: AttemptPaths, as user: ProcessUser?) async -> AttemptOutcome {
        let process: RunningProcess
        do {
            try workDirectories.prepareCheckpoints(paths.checkpoints, for: user?.uid)
            if let stop = attempts.stopReason(lease.attemptId) { return AttemptOutcome(ending: .stopped(stop)) }
            process = try RunningProcess.spawn(ProcessLaunch(argv: lease.command, environment: environment.variables(for: lease, at: paths),
                                                             workingDirectory: paths.directory, outputPath: paths.output, user: user))
        } catch {
            // The task's log says why it never ran, like the output of one that did.
            _ = FileManager.default.createFile(atPath: paths.output, contents: Data("drover: cannot start the task: \(error)\n".utf8))
            _ = await shipper.ship(lease, path: paths.output, from: 0)
            return AttemptOutcome(ending: .cannotStart("\(error)"))
        }
        workDirectories.leftovers.record(paths.directory, pid: process.pid)
        if attempts.attach(lease.attemptId, process: process, progressPath: paths.progress) { await attempts.terminate([process]) }
        logger.debug("attempt started", metadata: ["attempt.id": "\(lease.attemptId)", "job.id": "\(lease.jobId)", "task": "\(lease.task)", "pid": "\(process.pid)"])

        let (exit, timedOut) = await supervise(process, of: lease, outputPath: paths.output)
        let ending = AttemptOutcome.ending(of: exit, timedOutAfter: timedOut ? lease.timeoutMs : nil, stop: attempts.stopReason(lease.attemptId))
        return AttemptOutcome(ending: ending, exit: exit, progress: ProgressFile.latest(at: paths.progress))
    }

    private enum Event: Sendable {
        case exited(ProcessExit)
        case timedOut
        case other
    }

    /// Waits for `process` to exit while shipping its output and enforcing the lease's
    /// timeout; every child ends on its own once the process exited, so nothing is cancelled.
    private func supervise(_ process: RunningProcess, of lease: LeaseView, outputPath: String) async -> (ProcessExit, timedOut: Bool) {
        let exited = Latch()
        return await withTaskGroup(of: Event.self) { group in
            group.addTask {
                let exit = await process.wait()
                exited.open()
                return .exited(exit)
            }
            group.addTask {
                _ = await shipper.follow(lease, path: outputPath, until: exited)
                return .other
            }
            if let timeout = lease.timeoutMs {
                let deadline = clock.now + .milliseconds(timeout)
                group.addTask {
                    guard await !exited.wait(orUntil: deadline, on: clock) else { return .other }
                    await attempts.terminate([process])
                    return .timedOut
                }
            }
            var exit: ProcessExit?
            var timedOut = false
            for await event in group {
                switch event {
                case .exited(let result): exit = result
                case .timedOut: timedOut = true
                case .other: break
                }
            }
            return (exit!, timedOut)
        }
    }
}
