// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import OpsKit

/// The parts of the handoff's timeline SVG a reader sees, read back with an XML parser (so the
/// SVG must also be well-formed XML): the plot area, each mark or cluster with its x and
/// title, the version labels and the "now" marker.
public struct ParsedSVG {
    public struct Mark {
        public var classes: [String]
        public var x: Double
        public var title: String
    }

    public var plot: (x: Double, width: Double)?
    public var marks: [Mark] = []
    public var labels: [String] = []
    public var nowX: Double?

    public init(_ text: String) throws {
        let delegate = Delegate()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = delegate
        guard parser.parse() else { throw OpsError(.software, code: "test.svg", "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
        self = delegate.result
    }

    final class Delegate: NSObject, XMLParserDelegate {
        var result = ParsedSVG(empty: ())
        var stack: [(name: String, attributes: [String: String])] = []
        var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            stack.append((name, attributes))
            text = ""
            if name == "rect", attributes["class"] == "plot" {
                result.plot = (Double(attributes["x"]!)!, Double(attributes["width"]!)!)
            }
            if name == "line", stack.dropLast().last?.attributes["class"] == "now" { result.nowX = Double(attributes["x1"]!) }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let element = stack.removeLast()
            if name == "text", element.attributes["class"] == "label" { result.labels.append(text) }
            if name == "title", let parent = stack.last, let classes = parent.attributes["class"]?.split(separator: " ").map(String.init),
               classes.first == "mark" || classes.first == "cluster", let transform = parent.attributes["transform"] {
                let x = Double(transform.dropFirst("translate(".count).split(separator: " ")[0])!
                result.marks.append(Mark(classes: classes, x: x, title: text))
            }
        }
    }

    init(empty: Void) {}
}
