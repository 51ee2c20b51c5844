import ArgumentParser
import DroverAPI
import DroverClient
import Foundation

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Signed webhooks (Standard Webhooks) for job, attempt, node and budget events.",
        discussion: """
            Events: job.succeeded, job.failed, job.cancelled, job.finished (any of the three), attempt.failed,
            attempt.lost, budget.alert, node.down. Each delivery is POSTed as {type, timestamp, data} with the
            headers webhook-id, webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256 of
            id.timestamp.body>, keyed by the bytes of the whsec_ secret). Delivered at least once; retried
            with backoff for 25 h, the first retry within 10 s.

            EXAMPLES:
              drover webhook add https://hooks.example.com/drover --events job.failed,attempt.lost
              drover webhook list
              drover webhook deliveries wh-1a2b3c4d5e6f
              drover webhook redeliver msg_0123456789abcdef01234567
            """,
        subcommands: [Add.self, List.self, Remove.self, Deliveries.self, Redeliver.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a webhook; prints its id, then the secret when one was made.",
            discussion: """
                The secret is shown once: keep it to verify signatures. A team token registers for its own team.

                EXAMPLES:
                  drover webhook add https://hooks.example.com/drover --events job.finished
                  drover webhook add http://127.0.0.1:9000/hook --events node.down,budget.alert --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
                """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "Where to POST events: an http(s) URL.") var url: String
        @Option(help: ArgumentHelp("Comma-separated event types, e.g. job.failed,attempt.lost.", valueName: "E,...")) var events: String
        @Option(help: "Events of this team only (admins; without it, every team's).") var team: String?
        @Option(help: ArgumentHelp("Sign with this secret instead of a new one.", valueName: "whsec_...")) var secret: String?
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let names = events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let created = try await client.api().addWebhook(WebhookCreateRequest(url: url, events: names, team: team, secret: secret))
            if output == .json { return try Output.printJSON(created) }
            print(created.webhook.id)
            if let secret = created.secret { print(secret) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List webhooks.")
        @OptionGroup var client: ClientOptions
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let hooks = try await client.api().webhooks()
            if output == .json { return try Output.printJSON(hooks) }
            print(Output.table(["ID", "TEAM", "EVENTS", "URL", "CREATED"], hooks.map { h in
                [h.id, h.team ?? "(all)", h.events.joined(separator: ","), h.url, Output.time(h.createdAt)]
            }))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a webhook; its delivery log stays.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The webhook's id, e.g. wh-1a2b3c4d5e6f.") var id: String

        func run() async throws {
            print(try await client.api().removeWebhook(id).id)
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The delivery log, newest first: each delivery and its tries.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "One webhook's deliveries, e.g. wh-1a2b3c4d5e6f.") var id: String?
        @Option(help: "At most this many deliveries.") var limit: Int = 100
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let deliveries = try await client.api().deliveries(webhook: id, limit: limit)
            if output == .json { return try Output.printJSON(deliveries) }
            print(Output.table(["ID", "WEBHOOK", "TYPE", "STATE", "TRIES", "LAST", "NEXT TRY", "CREATED"], deliveries.map { d in
                [d.id, d.webhook, d.type, d.state, String(d.tries),
                 d.lastStatus.map(String.init) ?? d.lastError ?? "-", Output.time(d.nextTry), Output.time(d.createdAt)]
            }))
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a delivery again now, with the same webhook-id.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The delivery's id, e.g. msg_0123456789abcdef01234567.") var delivery: String

        func run() async throws {
            let again = try await client.api().redeliver(delivery)
            print("\(again.id) \(again.state)")
        }
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "The audit trail: one line per event; with --follow, as events happen.",
        discussion: """
            A team token sees its own team's jobs' events. --follow streams until interrupted and, if the
            connection drops, resumes after the last event it printed.

            EXAMPLES:
              drover events --job 42
              drover events --follow
              drover events --job 42 --follow --output json
            """)
    @OptionGroup var client: ClientOptions
    @Option(help: "One job's events, e.g. 42.") var job: String?
    @Flag(help: "Keep printing events as they are committed.") var follow = false
    @Option(help: "Recent events to print first (without --follow: all that are printed).") var limit: Int = 100
    @Option(help: "table (one line per event) or json (JSON lines).") var output: OutputFormat = .table

    func run() async throws {
        let api = try client.api()
        guard follow else {
            for event in try await api.events(job: job, limit: limit) { print(Self.line(event, output)) }
            return
        }
        var last: Int64?
        while true {
            do {
                last = try await api.followEvents(job: job, after: last) { event in
                    print(Self.line(event, output))
                    flushStandardOutput()
                }
            } catch let error as DroverClientError {
                guard case .unreachable = error else { throw error }
            }
            try await Task.sleep(for: .seconds(1)) // the coordinator went away: reconnect and resume
        }
    }

    static func line(_ event: StreamEventView, _ output: OutputFormat) -> String {
        if output == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        let d = event.data
        let change = d.from.map { "\($0) -> \(d.to)" } ?? d.to
        return "\(event.id)  \(Output.time(event.timestamp))  \(event.type)  \(d.subject)  \(change)  \(d.reason)  (\(d.actor))"
    }
}
