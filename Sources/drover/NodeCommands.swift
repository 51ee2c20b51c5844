import ArgumentParser
import DroverAPI
import DroverClient
import DroverCore
import Foundation

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List nodes with their state, capacity and load.",
        discussion: """
            Capacity and free resources are per node: cores, memory (GiB), GPUs. Rates are money per hour \
            of one core, one GiB of memory and one GPU.

            EXAMPLES:
              drover nodes
              drover nodes --output json
            """)
    @OptionGroup var client: ClientOptions
    @Option(help: "table or json.") var output: OutputFormat = .table

    func run() async throws {
        let nodes = try await client.api().nodes()
        if output == .json { return try Output.printJSON(nodes) }
        print(Output.table(["ID", "NAME", "STATE", "CAPACITY", "FREE", "TASKS", "ISOLATION", "RATES (CPU/GIB/GPU-HOUR)", "LAST HEARTBEAT", "LABELS"], nodes.map { n in
            [n.id, n.name, n.state.rawValue, Output.resources(n.capacity), Output.resources(n.free), String(n.runningTasks),
             n.taskIsolation?.rawValue ?? "-",
             n.prices.map { "\($0.cpuHour)/\($0.memoryGiBHour)/\($0.gpuHour)" } ?? "-", Output.time(n.lastHeartbeat),
             n.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
        }, rightAligned: [5]))
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Cordon, drain or uncordon a node.",
                                                    discussion: """
                                                        EXAMPLES:
                                                          drover node drain n3 --deadline 10m
                                                          drover node uncordon gpu-box-1
                                                        """,
                                                    subcommands: [Cordon.self, Drain.self, Uncordon.self, Revoke.self])

    struct Cordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop new leases to a node; running tasks go on.", discussion: """
            EXAMPLES:
              drover node cordon n3
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The node's id or name, e.g. n3 or gpu-box-1.") var id: String
        func run() async throws { try await change(client, id, "cordon") }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop new leases and let running tasks finish; with --deadline, requeue what still runs then.",
                                                        discussion: """
            EXAMPLES:
              drover node drain n3
              drover node drain n3 --deadline 10m
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The node's id or name, e.g. n3 or gpu-box-1.") var id: String
        @Option(help: ArgumentHelp("After this long, e.g. 10m or 1h, tasks still running are requeued without counting as failures.",
                                   valueName: "DURATION"))
        var deadline: String?
        func run() async throws {
            let node = try await client.api().node(id, action: "drain", deadline: deadline)
            print("node \(node.id) (\(node.name)) \(node.state)" + (node.drainDeadline.map { ", requeueing what still runs at \(Output.time($0))" } ?? ""))
        }
    }

    struct Uncordon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a cordoned or draining node take leases again.", discussion: """
            EXAMPLES:
              drover node uncordon n3
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The node's id or name, e.g. n3 or gpu-box-1.") var id: String
        func run() async throws { try await change(client, id, "uncordon") }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a node's agent token: it is down, its tasks are requeued, its agent stops.",
                                                        discussion: """
            EXAMPLES:
              drover node revoke n3
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The node's id or name, e.g. n3 or gpu-box-1.") var id: String
        func run() async throws { try await change(client, id, "revoke") }
    }

    static func change(_ client: ClientOptions, _ id: String, _ action: String) async throws {
        let node = try await client.api().node(id, action: action)
        print("node \(node.id) (\(node.name)) \(node.state)")
    }
}

// `--role` parses to the wire enum; the coordinator still decides which roles a token may get.
extension TokenRole: ExpressibleByArgument {}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Create, list and revoke team tokens (admin).",
                                                    discussion: """
            EXAMPLES:
              drover token create --team research --role reader
              drover token list
              drover token revoke 4
            """,
                                                    subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for a team; prints the token alone (it is not shown again).",
                                                        discussion: """
            EXAMPLES:
              drover token create --team research
              export DROVER_TOKEN=$(drover token create --team ml --role reader)
            """)
        @OptionGroup var client: ClientOptions
        @Option(help: "The team the token acts for, e.g. research.") var team: String
        @Option(help: "submitter (submit, cancel, read) or reader (read only).") var role: TokenRole = .submitter
        @Option(help: "table (the token alone) or json (with its id).") var output: OutputFormat = .table

        func run() async throws {
            let created = try await client.api().createToken(team: team, role: role)
            if output == .json { return try Output.printJSON(created) }
            print(created.token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).", discussion: """
            EXAMPLES:
              drover token list
            """)
        @OptionGroup var client: ClientOptions
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let tokens = try await client.api().tokens()
            if output == .json { return try Output.printJSON(tokens) }
            print(Output.table(["ID", "ROLE", "TEAM", "CREATED", "BY", "REVOKED"], tokens.map {
                [$0.id, $0.role.rawValue, $0.team ?? "-", Output.time($0.createdAt), $0.createdBy, Output.time($0.revokedAt)]
            }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id; it stops working at once.", discussion: """
            EXAMPLES:
              drover token revoke 4
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The token's id (token list shows it), e.g. 4.") var id: String

        func run() async throws {
            let token = try await client.api().revokeToken(id)
            print("token \(token.id) revoked")
        }
    }
}

struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quota", abstract: "Set, show and list team quotas.",
                                                    discussion: """
            EXAMPLES:
              drover quota set research --gpu 8 --budget 500/month
              drover quota show research
              drover quota list
            """,
                                                    subcommands: [Set.self, Show.self, List.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what a team may hold at once and spend (admin); only the fields given change.",
            discussion: """
            A team without its own quota starts from the cluster default. --unset clears fields: a
            limit becomes unlimited, the weight 1, the budget none.

            EXAMPLES:
              drover quota set research --cpu 64 --memory 256GiB --gpu 8
              drover quota set ml --running 100 --weight 2
              drover quota set ml --budget 500/month --budget-soft 90 --budget-hard-stop
              drover quota set ml --unset cpu,budget
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The team, e.g. research.") var team: String
        @Option(help: ArgumentHelp("CPU cores the team's running tasks may hold together, e.g. 64 or 0.5.", valueName: "CORES")) var cpu: String?
        @Option(help: ArgumentHelp("Memory its running tasks may hold together, e.g. 256GiB.", valueName: "SIZE")) var memory: String?
        @Option(help: ArgumentHelp("GPUs its running tasks may hold together, e.g. 8.", valueName: "N")) var gpu: Int?
        @Option(help: ArgumentHelp("Tasks running at once, e.g. 100.", valueName: "N")) var running: Int?
        @Option(help: "Share of contended capacity relative to other teams, e.g. 2 (default 1).") var weight: Double?
        @Option(help: ArgumentHelp("Money the team may spend per calendar period (UTC): AMOUNT/day, /week or /month, e.g. 500/month.",
                                   valueName: "AMOUNT/PERIOD"))
        var budget: String?
        @Option(help: ArgumentHelp("Percent of the budget at which an alert is raised, 1 to 100, e.g. 90 (default 80).", valueName: "PERCENT"))
        var budgetSoft: Int?
        @Flag(inversion: .prefixedNo, help: "At 100 % of the budget also stop running attempts (requeued), not only new leases.")
        var budgetHardStop: Bool?
        @Option(help: ArgumentHelp("Fields to clear, comma-separated: \(QuotaPatch.fieldNames.joined(separator: ", ")).", valueName: "FIELDS"))
        var unset: String?
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let view = try await client.api().patchQuota(team: team, .object(try patch()))
            if output == .json { return try Output.printJSON(view) }
            print(QuotaCommand.table([view]))
        }

        /// The merge patch of the flags given: a value per field set, null per field unset.
        func patch() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [:]
            if let cpu { fields["cpu"] = Double(cpu).map(JSONValue.number) ?? .string(cpu) }
            if let memory { fields["memory"] = .string(memory) }
            if let gpu { fields["gpu"] = .number(Double(gpu)) }
            if let running { fields["running"] = .number(Double(running)) }
            if let weight { fields["weight"] = .number(weight) }
            var budgetFields: [String: JSONValue] = [:]
            if let budget {
                let parts = budget.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw CLIError("--budget: expected AMOUNT/PERIOD such as 500/month, got '\(budget)'") }
                budgetFields = ["amount": .string(parts[0]), "period": .string(parts[1])]
            }
            if let budgetSoft { budgetFields["softPercent"] = .number(Double(budgetSoft)) }
            if let budgetHardStop { budgetFields["hardStop"] = .bool(budgetHardStop) }
            if !budgetFields.isEmpty { fields["budget"] = .object(budgetFields) }
            for name in try Self.fieldsToUnset(unset) {
                guard fields[name] == nil else { throw CLIError("--unset \(name) clears the field that another flag sets; give one of them") }
                fields[name] = .null
            }
            guard !fields.isEmpty else {
                throw CLIError("nothing to change: give a limit (e.g. --cpu 64), a budget (--budget 500/month) or --unset FIELDS")
            }
            return fields
        }

        /// The names in `--unset a,b`, each one of ``QuotaPatch/fieldNames``.
        static func fieldsToUnset(_ list: String?) throws -> [String] {
            guard let list else { return [] }
            let names = list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            for name in names where !QuotaPatch.fieldNames.contains(name) {
                throw CLIError("--unset: '\(name)' is not a quota field; the fields are \(QuotaPatch.fieldNames.joined(separator: ", "))")
            }
            return names
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One team's limits, what it holds and queues, and its budget.", discussion: """
            EXAMPLES:
              drover quota show research
              drover quota show research --output json
            """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The team, e.g. research.") var team: String
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let view = try await client.api().quota(team: team)
            if output == .json { return try Output.printJSON(view) }
            print(QuotaCommand.table([view]))
            if let budget = view.budget {
                let c = budget.currency
                print("""

                    Budget:    \(Output.money(budget.amount)) \(c) per \(budget.period) (alert at \(budget.softPercent) %\(budget.hardStop ? ", hard stop" : ""))
                    Spent:     \(Output.money(budget.spent)) \(c) since \(budget.periodStart); resets \(budget.resets)
                    Reserved:  \(Output.money(budget.reserved ?? 0)) \(c) by admitted jobs not yet spent
                    Available: \(Output.money(budget.available ?? budget.remaining)) \(c) for new jobs
                    """)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each team's limit, what it holds and what it has queued.", discussion: """
            EXAMPLES:
              drover quota list
              drover quota list --output json
            """)
        @OptionGroup var client: ClientOptions
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let views = try await client.api().quotas()
            if output == .json { return try Output.printJSON(views) }
            print(QuotaCommand.table(views))
        }
    }

    static func table(_ views: [QuotaView]) -> String {
        func limit(_ value: String?) -> String { value ?? "∞" }
        return Output.table(["TEAM", "CPU", "MEMORY", "GPU", "RUNNING", "WEIGHT", "QUEUED TASKS", "QUEUED CPU", "BUDGET"], views.map { v in
            [v.team + (v.isDefault ? " (default)" : ""),
             "\(Quantity.formatCPU(Int64((v.inUse.cpu * 1000).rounded())))/\(limit(v.limit.cpu.map { Quantity.formatCPU(Int64(($0 * 1000).rounded())) }))",
             "\(Quantity.formatSize(v.inUse.memory))/\(limit(v.limit.memory.map(Quantity.formatSize)))",
             "\(v.inUse.gpu)/\(limit(v.limit.gpu.map(String.init)))",
             "\(v.inUse.tasks)/\(limit(v.limit.running.map(String.init)))",
             String(v.weight), String(v.queued.tasks), Quantity.formatCPU(Int64((v.queued.cpu * 1000).rounded())),
             v.budget.map { b in
                 "\(Output.money(b.spent))/\(Output.money(b.amount)) \(b.currency) per \(b.period)" + (b.spent >= b.amount ? " (exhausted)" : "")
             } ?? "-"]
        }, rightAligned: [1, 2, 3, 4, 5, 6, 7])
    }
}
