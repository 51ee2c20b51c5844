import DroverCore
import DroverAPI
import DroverClient
import Foundation
import Logging
import ServiceLifecycle

/// The agent service: registers, then long-polls for leases, runs each attempt as its own
/// process group, ships its output, heartbeats, and reports how each attempt ended.
///
/// This is the composition only; each job is a part of its own: `LeasePoller`,
/// `AttemptRunner` (with `LogShipper`), `Heartbeat` (and the disconnect grace),
/// `ReportOutbox`, sharing `RunningAttempts` and `CoordinatorContact`.
public final class Agent: Service {
    let configuration: AgentConfiguration
    let logger: Logger
    let clock: any MonotonicClock
    private let attempts: RunningAttempts
    private let workDirectories: WorkDirectories
    private let environment = TaskEnvironment()

    /// How long shutdown waits for the last reports to be delivered.
    static let reportFlushTimeout = Duration.seconds(10)

    public convenience init(configuration: AgentConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger, clock: ContinuousClock())
    }

    init(configuration: AgentConfiguration, logger: Logger, clock: any MonotonicClock) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        attempts = RunningAttempts(killGrace: configuration.killGrace, logger: logger)
        let root = configuration.effectiveWorkDirectory
        workDirectories = WorkDirectories(root: root, checkpointRoot: configuration.checkpointRoot ?? root + "/checkpoints",
                                          keep: configuration.keepWorkDirectories)
    }

    /// Number of attempts held now (leased, running, or ended with the report not yet queued).
    public var runningCount: Int { attempts.count }

    /// Registers, then runs the parts until a graceful shutdown; throws if registration is
    /// refused or the coordinator revokes the agent's token.
    public func run() async throws {
        // Before anything is removed or run there: a second agent on this directory stops here.
        let lock = try WorkDirectoryLock(directory: configuration.effectiveWorkDirectory)
        defer { withExtendedLifetime(lock) {} }
        workDirectories.leftovers.killLeftovers(logger: logger)
        workDirectories.removeLeftovers()
        let users = try prepareTaskUsers()
        guard let registered = try await registerWithRetry(taskIsolation: users.isolation) else { return } // shut down before registering
        let (registration, client) = registered
        let contact = CoordinatorContact(clock: clock, logger: logger)
        let poller = LeasePoller(link: client, clock: clock, attempts: attempts, contact: contact, maxLeases: configuration.maxLeasesPerPoll,
                                 wait: configuration.pollWait, logger: logger)
        let outbox = ReportOutbox(link: client, clock: clock, contact: contact, maxLeases: configuration.maxLeasesPerPoll, logger: logger)
        let heartbeat = Heartbeat(link: client, clock: clock, attempts: attempts, contact: contact, interval: .milliseconds(registration.heartbeatIntervalMs),
                                  grace: configuration.disconnectGrace ?? .milliseconds(registration.leaseTtlMs),
                                  undeliveredReports: { outbox.undeliveredAttemptIds }, logger: logger)
        let runner = AttemptRunner(workDirectories: workDirectories, environment: environment, attempts: attempts,
                                   shipper: LogShipper(link: client, clock: clock, logger: logger), clock: clock,
                                   keepWorkDirectories: configuration.keepWorkDirectories, users: users, logger: logger)

        let (leases, leaseSink) = AsyncStream.makeStream(of: LeaseView.self)
        let attempts = attempts
        // Leases from a poll or a report's answer; held at once, so the next heartbeat renews them.
        let accept: @Sendable ([LeaseView]) -> Void = { newLeases in
            for lease in newLeases {
                attempts.add(lease)
                // Past shutdown nothing starts them: forget them, the coordinator requeues them.
                if case .terminated = leaseSink.yield(lease) { attempts.remove(lease.attemptId) }
            }
        }
        let stop = await withGracefulShutdownHandler {
            await withTaskGroup(of: LeasePoller.Stop.self) { group in
                group.addTask {
                    defer { leaseSink.finish() }
                    return await poller.run(accept: accept)
                }
                group.addTask {
                    await heartbeat.run()
                    return .shutdown
                }
                group.addTask {
                    await outbox.run(onLeases: accept)
                    return .shutdown
                }
                // One child per attempt; this returns once polling stopped and every attempt ended.
                await withDiscardingTaskGroup { running in
                    for await lease in leases {
                        running.addTask {
                            _ = await runner.run(lease) { outcome in
                                // Queued even for an attempt the coordinator disowned: refused as
                                // stale, that refusal is part of the audit trail. Queued before it
                                // leaves `attempts`, so every heartbeat lists it until answered.
                                outbox.enqueue(ReportView(attemptId: lease.attemptId, outcome: outcome))
                                attempts.remove(lease.attemptId)
                            }
                        }
                    }
                    // Polling stopped (shutdown or a revoked token): stop what runs.
                    await attempts.stopAll(.preempted("agent \(registration.nodeId) is shutting down"))
                }
                await outbox.flush(timeout: Self.reportFlushTimeout)
                group.cancelAll()
                let revoked = await group.contains(LeasePoller.Stop.revoked)
                return revoked ? LeasePoller.Stop.revoked : .shutdown
            }
        } onGracefulShutdown: {
            leaseSink.finish()
        }
        if stop == .revoked { throw AgentError("this agent's token was revoked; register it again with the join token if that was a mistake") }
        await leave(client, node: registration.nodeId)
        logger.info("agent stopped")
    }

    /// Tells the coordinator this agent leaves, once its attempts are stopped and their reports
    /// sent, so that its node is down at once rather than after the TTL.
    func leave(_ client: DroverClient, node: String) async {
        do {
            try await client.leave()
            logger.info("left the cluster", metadata: ["node.id": "\(node)"])
        } catch {
            logger.warning("could not tell the coordinator this agent leaves; its node is declared down after the TTL",
                           metadata: ["node.id": "\(node)", "error": "\(error)"])
        }
    }
}

extension Agent {
    /// Decides whom tasks run as on this machine, sets up the directories for it, and warns
    /// once when tasks are not isolated from each other.
    func prepareTaskUsers() throws -> TaskUsers {
        try workDirectories.prepareRoots()
        let root = configuration.effectiveWorkDirectory
        let closed = TaskUsers.firstClosedDirectory(among: [root, configuration.checkpointRoot ?? root + "/checkpoints"])
        let users = TaskUsers(TaskUsers.decide(range: configuration.taskUIDs, agentUID: geteuid(), setpriv: TaskUsers.findSetpriv(), closedDirectory: closed))
        try users.checkRange()
        switch users.decision {
        case .isolated(let range, _): logger.info("each attempt runs as its own uid", metadata: ["task.uids": "\(range.lowerBound)-\(range.upperBound)"])
        case .shared(let reason): logger.warning("\(reason)")
        }
        return users
    }
}

/// An agent failure that retrying will not fix.
public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
