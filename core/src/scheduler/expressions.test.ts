import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Expression } from "../extension-points/model.js";
import {
  ExpressionError,
  describeExpression,
  evaluateExpression,
  formatExpression,
  matchesAny,
  parseExpression,
  parseExpressions,
} from "./expressions.js";

const OPERATOR_EXPECTED = "One of operator ==, != is expected";

function parseError(text: string): string {
  try {
    parseExpression(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return (err as ExpressionError).message;
  }
  throw new Error(`${text} parsed`);
}

describe("parseExpression", () => {
  it.each<[string, Expression]>([
    ["region==eu", { key: "region", operator: "==", value: "eu", soft: false }],
    ["region!=eu", { key: "region", operator: "!=", value: "eu", soft: false }],
    ["node==~node-1", { key: "node", operator: "==", value: "node-1", soft: true }],
    ["image!=~redis", { key: "image", operator: "!=", value: "redis", soft: true }],
    ["_x==1", { key: "_x", operator: "==", value: "1", soft: false }],
    ["com.docker.compose-project_1==a", { key: "com.docker.compose-project_1", operator: "==", value: "a", soft: false }],
    ["Region==EU", { key: "Region", operator: "==", value: "EU", soft: false }],
    ["node==/node[12]/", { key: "node", operator: "==", value: "/node[12]/", soft: false }],
    ["node==~/(?i)NODE/", { key: "node", operator: "==", value: "/(?i)NODE/", soft: true }],
    ["ostype==/(linux)|(windows)/", { key: "ostype", operator: "==", value: "/(linux)|(windows)/", soft: false }],
    ["image==localhost:5000/test:1.0", { key: "image", operator: "==", value: "localhost:5000/test:1.0", soft: false }],
    ["label==a b\tc", { key: "label", operator: "==", value: "a b\tc", soft: false }],
    ["x.y==^a+b?c*[d]\\e$|f", { key: "x.y", operator: "==", value: "^a+b?c*[d]\\e$|f", soft: false }],
    // `==` is looked for first, then split at its first occurrence: a leading `=` stays in the value.
    ["node===node-1", { key: "node", operator: "==", value: "=node-1", soft: false }],
    ["node==!node-1", { key: "node", operator: "==", value: "!node-1", soft: false }],
    ["node!=!node-1", { key: "node", operator: "!=", value: "!node-1", soft: false }],
    ["node==/~x", { key: "node", operator: "==", value: "/~x", soft: false }],
  ])("%j", (text, expected) => {
    expect(parseExpression(text)).toEqual(expected);
  });

  it.each<[string, string]>([
    ["region", `${OPERATOR_EXPECTED} in 'region'`],
    ["region=eu", `${OPERATOR_EXPECTED} in 'region=eu'`],
    ["region<>eu", `${OPERATOR_EXPECTED} in 'region<>eu'`],
    ["", `${OPERATOR_EXPECTED} in ''`],
    ["r==eu", "Key 'r' is invalid"],
    ["==eu", "Key '' is invalid"],
    ["1region==eu", "Key '1region' is invalid"],
    ["-region==eu", "Key '-region' is invalid"],
    ["reg/ion==eu", "Key 'reg/ion' is invalid"],
    ["region == eu", "Key 'region ' is invalid"],
    ["région==eu", "Key 'région' is invalid"],
    // `==` wins over an earlier `!=`: the key is everything before the first `==`.
    ["region!=eu==x", "Key 'region!=eu' is invalid"],
    ["region==eu!=x", "Value 'eu!=x' is invalid"],
    ["region==", "Value '' is invalid"],
    ["region==~", "Value '~' is invalid"],
    ["region==~~eu", "Value '~~eu' is invalid"],
    ["region==e~u", "Value 'e~u' is invalid"],
    ["region==a,b", "Value 'a,b' is invalid"],
    ["region=={a}", "Value '{a}' is invalid"],
    ["region==a@b", "Value 'a@b' is invalid"],
    ["region==\"eu\"", "Value '\"eu\"' is invalid"],
    ["region==a=b", "Value 'a=b' is invalid"],
    ["region====b", "Value '==b' is invalid"],
    ["region==/(?=x)/", "Value '/(?=x)/' is invalid"],
  ])("%j → %s", (text, message) => {
    expect(parseError(text)).toBe(message);
  });

  it("parses lists in order and fails on the first bad entry", () => {
    expect(parseExpressions(["a1==x", "b1!=~y"]).map((e) => formatExpression(e, true))).toEqual(["a1==x", "b1!=~y"]);
    expect(() => parseExpressions(["a1==x", "b", "c==,"])).toThrow(`${OPERATOR_EXPECTED} in 'b'`);
    expect(parseExpressions([])).toEqual([]);
  });

  it("carries the expression error codes", () => {
    const err = new ExpressionError("x");
    expect(err.code).toBe("SWARM_ERR_INVALID_EXPRESSION");
    expect(err.status).toBe(500);
    const codeOf = (text: string) => {
      try {
        parseExpression(text);
      } catch (thrown) {
        return (thrown as ExpressionError).code;
      }
      return undefined;
    };
    expect(codeOf("b")).toBe("SWARM_ERR_EXPRESSION_WITHOUT_OPERATOR");
    expect(codeOf("k==v")).toBe("SWARM_ERR_INVALID_EXPRESSION_KEY");
    expect(codeOf("key==,")).toBe("SWARM_ERR_INVALID_EXPRESSION_VALUE");
  });
});

describe("formatExpression", () => {
  it.each<[string, string, string]>([
    ["region==eu", "region==eu", "region==eu"],
    ["node!=~node-1", "node!=node-1", "node!=~node-1"],
    ["image==~/re.*/", "image==/re.*/", "image==~/re.*/"],
  ])("%j → %j (with marker %j)", (text, plain, marked) => {
    const expression = parseExpression(text);
    expect(formatExpression(expression)).toBe(plain);
    expect(formatExpression(expression, true)).toBe(marked);
  });
});

describe("describeExpression", () => {
  it.each<[string, string]>([
    ["region==eu", "region==eu"],
    ["node!=~node-1", "node!=node-1"],
    ["region==/eu|us/", "region==/eu|us/"],
    // Values that match nothing because they do not compile carry Go's parse error.
    ["region==/[/", "region==/[/ (error parsing regexp: missing closing ]: `[`)"],
    ["region==~/(a)\\1/", "region==/(a)\\1/ (error parsing regexp: invalid escape sequence: `\\1`)"],
    ["region==eu(", "region==eu( (error parsing regexp: missing closing ): `^eu($`)"],
  ])("%j → %j", (text, described) => {
    expect(describeExpression(parseExpression(text))).toBe(described);
  });
});

describe("evaluateExpression", () => {
  it.each<[string, string[], boolean]>([
    // Globs: anchored, `*` → `.*`, everything else keeps its regex meaning.
    ["k1==node-1", ["node-1"], true],
    ["k1==node-1", ["node-10"], false],
    ["k1==node-1", ["xnode-1"], false],
    ["k1==node-*", ["node-10"], true],
    ["k1==node-*", ["node-"], true],
    ["k1==node-*", ["anode-1"], false],
    ["k1==*", [""], true],
    ["k1==node.1", ["node-1"], true],
    ["k1==node.1", ["node.1"], true],
    ["k1==node.1", ["node--1"], false],
    ["k1==node-1?", ["node-"], true],
    ["k1==node-1?", ["node-12"], false],
    ["k1==a+", ["aaa"], true],
    ["k1==eu|us", ["eux"], true],
    ["k1==Node-1", ["node-1"], false],
    ["k1==[ab]c", ["bc"], true],
    ["k1==a\\.b", ["a.b"], true],
    ["k1==a\\.b", ["axb"], false],
    ["k1==/", ["/"], true],
    // Regexes: RE2 syntax, unanchored.
    ["k1==/node[12]/", ["node10"], true],
    ["k1==/node[12]/", ["node3"], false],
    ["k1==/^node[12]$/", ["node10"], false],
    ["k1==/(?i)NODE/", ["my-node"], true],
    ["k1==/NODE/", ["my-node"], false],
    ["k1==/\\d+/", ["v12"], true],
    ["k1==//", ["anything"], true],
    // A regex that does not compile matches nothing (RE2: no backreferences, unbalanced parens).
    ["k1==/(a)\\1/", ["aa"], false],
    ["k1!=/(a)\\1/", ["aa"], true],
    ["k1==/node(/", ["node("], false],
    ["k1==node(", ["node("], false],
    ["k1!=node(", ["node("], true],
    // Operators: `==` needs one matching candidate, `!=` none.
    ["k1==b", ["a", "b"], true],
    ["k1!=b", ["a", "b"], false],
    ["k1!=c", ["a", "b"], true],
    ["k1==b", [], false],
    ["k1!=b", [], true],
    // A missing label is the candidate "".
    ["foo!=bar", [""], true],
    ["foo==bar", [""], false],
  ])("%j on %j → %s", (text, candidates, expected) => {
    expect(evaluateExpression(parseExpression(text), candidates)).toBe(expected);
  });

  it("ignores the soft marker when matching", () => {
    expect(evaluateExpression(parseExpression("node==~node-1"), ["node-1"])).toBe(true);
  });

  it("accepts any iterable of candidates", () => {
    expect(matchesAny({ value: "b*" }, new Set(["a", "bc"]))).toBe(true);
    function* names() {
      yield "x";
      yield "y";
    }
    expect(matchesAny({ value: "y" }, names())).toBe(true);
  });
});

describe("expression properties", () => {
  const documented = (message: string) =>
    /^One of operator ==, != is expected in '.*'$/s.test(message) || /^Key '.*' is invalid$/s.test(message) || /^Value '.*' is invalid$/s.test(message);

  const texts = fc.oneof(
    fc.string({ unit: "binary", maxLength: 30 }),
    // Mostly well-formed pieces, so that every branch is reached often.
    fc.tuple(
      fc.stringMatching(/^[a-zA-Z_0-9.-]{0,6}$/),
      fc.constantFrom("==", "!=", "=", "===", "!==", "", "==~", "!=~"),
      fc.string({ unit: fc.constantFrom(..."abz09:-_ .*/()?+[]\\^$|~=!,{}@\"\t\n"), maxLength: 12 }),
    ).map(([key, op, value]) => `${key}${op}${value}`),
  );

  it("parseExpression returns an expression or throws one of the three documented errors", () => {
    fc.assert(
      fc.property(texts, (text) => {
        let expression: Expression;
        try {
          expression = parseExpression(text);
        } catch (err) {
          expect(err).toBeInstanceOf(ExpressionError);
          expect(documented((err as Error).message)).toBe(true);
          return;
        }
        expect(["==", "!="]).toContain(expression.operator);
        expect(expression.key.length).toBeGreaterThanOrEqual(2);
        expect(expression.value.length).toBeGreaterThanOrEqual(1);
        // What parses prints back to an equivalent expression.
        expect(parseExpression(formatExpression(expression, true))).toEqual(expression);
      }),
      { numRuns: 2000 },
    );
  });

  it("names the offending text in the error", () => {
    fc.assert(
      fc.property(texts, (text) => {
        try {
          parseExpression(text);
        } catch (err) {
          const message = (err as Error).message;
          const quoted = /^(?:Key|Value) '(.*)' is invalid$/s.exec(message)?.[1];
          if (quoted !== undefined) expect(text).toContain(quoted);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("evaluateExpression never throws, whatever the value and candidates", () => {
    const anyExpression = fc.record({
      key: fc.string({ maxLength: 5 }),
      operator: fc.constantFrom<"==" | "!=">("==", "!="),
      value: fc.oneof(fc.string({ maxLength: 10 }), fc.string({ maxLength: 8 }).map((s) => `/${s}/`)),
      soft: fc.boolean(),
    });
    fc.assert(
      fc.property(anyExpression, fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }), (expression, candidates) => {
        const result = evaluateExpression(expression, candidates);
        expect(typeof result).toBe("boolean");
        // `!=` is exactly the negation of `==`.
        expect(evaluateExpression({ ...expression, operator: expression.operator === "==" ? "!=" : "==" }, candidates)).toBe(!result);
      }),
      { numRuns: 2000 },
    );
  });

  it("a literal value (no regex metacharacters) matches exactly itself", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9:_-]{1,8}$/), fc.array(fc.stringMatching(/^[a-z0-9:_-]{0,8}$/), { maxLength: 4 }), (value, candidates) => {
        expect(matchesAny({ value }, candidates)).toBe(candidates.includes(value));
      }),
    );
  });
});
