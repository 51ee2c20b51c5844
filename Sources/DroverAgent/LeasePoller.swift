import DroverAPI
import DroverCore
import Logging
import ServiceLifecycle

/// Long-polls the coordinator for leases and for attempts to cancel, retrying with backoff
/// while it is unreachable, until the agent shuts down or its token is refused.
struct LeasePoller: Sendable {
    /// Why polling stopped.
    enum Stop: Sendable, Equatable {
        case shutdown
        /// The coordinator refused this agent's token (an admin's `drover node revoke`).
        case revoked
    }

    let link: any CoordinatorLink
    let clock: any MonotonicClock
    let attempts: RunningAttempts
    let contact: CoordinatorContact
    let maxLeases: Int
    /// How long the coordinator may hold a poll when it has nothing to give.
    let wait: Duration
    let logger: Logger

    /// Polls until shutdown, cancellation or a refused token; `accept` gets the leases.
    func run(accept: ([LeaseView]) -> Void) async -> Stop {
        var backoff = Backoff(initial: .milliseconds(100))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let response = try await link.poll(PollRequest(maxLeases: maxLeases, waitMs: wait.milliseconds))
                contact.noteContact()
                backoff.reset()
                accept(response.leases)
                let processes = response.cancel.compactMap { attempts.requestStop($0, .cancelled(Heartbeat.cancelledByCoordinator)) }
                await attempts.terminate(processes)
            } catch is CancellationError {
                return .shutdown
            } catch let error where error.coordinatorStatus == 401 {
                // Do not register again: the admin meant this machine to leave.
                logger.error("the coordinator refused this agent's token (revoked?); stopping all tasks and exiting", metadata: ["error": "\(error)"])
                await attempts.stopAll(.cancelled("agent token revoked"))
                return .revoked
            } catch {
                if Task.isShuttingDownGracefully { return .shutdown }
                let delay = backoff.next()
                logger.warning("poll failed; retrying", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                try? await clock.sleep(for: delay)
            }
        }
        return .shutdown
    }
}
