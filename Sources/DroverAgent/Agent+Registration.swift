import DroverAPI
import DroverCore
import DroverClient
import Foundation
import ServiceLifecycle

extension Agent {
    /// Registers with the join token, retrying with backoff while the coordinator cannot be
    /// reached; returns the answer and a client holding the agent's own token, or nil if the
    /// agent was shut down first. A refusal (bad token or request) is not retried.
    func registerWithRetry(taskIsolation: TaskIsolation) async throws -> (RegisterResponse, DroverClient)? {
        let request = try await registrationRequest(taskIsolation: taskIsolation)
        var backoff = Backoff(initial: .milliseconds(200))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let client = try DroverClient(baseURL: configuration.coordinatorURL, token: configuration.joinToken, caCertificate: configuration.caCertificate,
                                              caPin: configuration.caPin)
                let response = try await client.register(request)
                let authenticated = try DroverClient(baseURL: configuration.coordinatorURL, token: response.token, caCertificate: configuration.caCertificate,
                                                     caPin: configuration.caPin)
                logger.info("registered", metadata: ["node.id": "\(response.nodeId)", "node.name": "\(request.name)",
                                                     "node.cpu": "\(request.cpu)", "node.memory": "\(request.memory)", "node.gpus": "\(request.gpus.count)"])
                return (response, authenticated)
            } catch let error where [400, 401, 403].contains(error.coordinatorStatus) {
                throw AgentError("registration refused: \(error)")
            } catch let error as DroverClientError where error.isTrustFailure {
                // Retrying cannot make a certificate trusted: say what to do and stop.
                throw AgentError("cannot register: \(error)")
            } catch {
                let delay = backoff.next()
                logger.warning("cannot register yet; retrying", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                try? await clock.sleep(for: delay)
            }
        }
        return nil
    }

    /// This machine's offer: configured values, else what the host has.
    func registrationRequest(taskIsolation: TaskIsolation) async throws -> RegisterRequest {
        let name = configuration.effectiveName
        var gpus: [GPUInfo]
        if let count = configuration.gpus {
            let detected = (try? await HostCapacity.detectGPUs(executable: configuration.nvidiaSmi)) ?? []
            gpus = (0..<count).map { index in
                detected.first { $0.index == index }.map { GPUInfo(index: $0.index, name: $0.name, memoryMiB: $0.memoryMiB) }
                    ?? GPUInfo(index: index, name: "gpu", memoryMiB: nil)
            }
        } else {
            gpus = try await HostCapacity.detectGPUs(executable: configuration.nvidiaSmi).map { GPUInfo(index: $0.index, name: $0.name, memoryMiB: $0.memoryMiB) }
        }
        return RegisterRequest(
            name: name, cpu: configuration.cpu ?? Double(HostCapacity.cpuCores()), memory: configuration.memoryBytes ?? HostCapacity.memoryBytes(),
            gpus: gpus, labels: configuration.labels, prices: configuration.prices, taskIsolation: taskIsolation)
    }
}
