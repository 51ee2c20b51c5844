import Foundation
import PackagePlugin

/// Generates, at build time, a Swift file holding docs/openapi.json as a string literal
/// (`OpenAPIDocument.json`), so the document lives once and the binary serves its bytes.
@main struct EmbedOpenAPI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let document = context.package.directoryURL.appending(path: "docs/openapi.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocument+json.swift")
        return [
            .buildCommand(
                displayName: "Embedding docs/openapi.json",
                executable: try context.tool(named: "embed-openapi").url,
                arguments: [document.path(percentEncoded: false), output.path(percentEncoded: false)],
                inputFiles: [document], outputFiles: [output]),
        ]
    }
}
