import ArgumentParser
import DroverAPI
import DroverClient
import DroverCore
import Foundation

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List nodes with their state, capacity and load.")
    @OptionGroup var client: ClientOptions
    @Option var output: OutputFormat = .table

    func run() async throws {
        let nodes = try await client.api().nodes()
        if output == .json { return try Output.printJSON(nodes) }
        print(Output.table(["ID", "NAME", "STATE", "CAPACITY", "FREE", "TASKS", "LAST HEARTBEAT", "LABELS"], nodes.map { n in
            [n.id, n.name, n.state, Output.resources(n.capacity), Output.resources(n.free), String(n.runningTasks), Output.time(n.lastHeartbeat),
             n.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
        }))
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Cordon, drain or uncordon a node.",
                                                    subcommands: [Cordon.self, Drain.self, Uncordon.self, Revoke.self])

    struct Cordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop new leases to a node; running tasks go on.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await change(client, id, "cordon") }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop new leases and let running tasks finish.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await change(client, id, "drain") }
    }

    struct Uncordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a cordoned or draining node take leases again.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await change(client, id, "uncordon") }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a node's agent token: it is down, its tasks are requeued, its agent stops.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await change(client, id, "revoke") }
    }

    static func change(_ client: ClientOptions, _ id: String, _ action: String) async throws {
        let node = try await client.api().node(id, action: action)
        print("node \(node.id) (\(node.name)) \(node.state)")
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Create, list and revoke team tokens (admin).",
                                                    subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for a team; prints the token alone (it is not shown again).")
        @OptionGroup var client: ClientOptions
        @Option var team: String
        @Option(help: "submitter (submit, cancel, read) or reader (read only).") var role: String = "submitter"
        @Option var output: OutputFormat = .table

        func run() async throws {
            let created = try await client.api().createToken(team: team, role: role)
            if output == .json { return try Output.printJSON(created) }
            print(created.token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var client: ClientOptions
        @Option var output: OutputFormat = .table

        func run() async throws {
            let tokens = try await client.api().tokens()
            if output == .json { return try Output.printJSON(tokens) }
            print(Output.table(["ID", "ROLE", "TEAM", "CREATED", "BY", "REVOKED"], tokens.map {
                [$0.id, $0.role, $0.team ?? "-", Output.time($0.createdAt), $0.createdBy, Output.time($0.revokedAt)]
            }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id; it stops working at once.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            let token = try await client.api().revokeToken(id)
            print("token \(token.id) revoked")
        }
    }
}
