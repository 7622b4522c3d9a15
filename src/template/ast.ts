/** Template syntax tree (the shapes of Jinja2's `nodes` module that SlapOS templates need). */
import type { PyValue } from './values.ts';

interface Base {
  lineno: number;
}

export interface CallArgs {
  args: Expr[];
  kwargs: [string, Expr][];
  dynArgs: Expr | null;
  dynKwargs: Expr | null;
}

export type BinOperator = 'add' | 'sub' | 'mul' | 'div' | 'floordiv' | 'mod' | 'pow';
export type CompareOperator = 'eq' | 'ne' | 'lt' | 'lteq' | 'gt' | 'gteq' | 'in' | 'notin';

export type Expr =
  | (Base & { kind: 'Const'; value: PyValue })
  | (Base & { kind: 'Name'; name: string })
  | (Base & { kind: 'Tuple'; items: Expr[] })
  | (Base & { kind: 'List'; items: Expr[] })
  | (Base & { kind: 'Dict'; pairs: [Expr, Expr][] })
  | (Base & { kind: 'Getattr'; node: Expr; attr: string })
  | (Base & { kind: 'Getitem'; node: Expr; arg: Expr })
  | (Base & { kind: 'Slice'; start: Expr | null; stop: Expr | null; step: Expr | null })
  | (Base & CallArgs & { kind: 'Call'; node: Expr })
  | FilterExpr
  | (Base & CallArgs & { kind: 'Test'; node: Expr; name: string })
  | (Base & { kind: 'CondExpr'; test: Expr; expr1: Expr; expr2: Expr | null })
  | (Base & { kind: 'BinOp'; op: BinOperator; left: Expr; right: Expr })
  | (Base & { kind: 'And' | 'Or'; left: Expr; right: Expr })
  | (Base & { kind: 'Not' | 'Neg' | 'Pos'; node: Expr })
  | (Base & { kind: 'Concat'; nodes: Expr[] })
  | (Base & { kind: 'Compare'; expr: Expr; ops: [CompareOperator, Expr][] });

/** A filter application; `node` is null in `{% filter %}` blocks and `{% set x | f %}`. */
export type FilterExpr = Base & CallArgs & { kind: 'Filter'; node: Expr | null; name: string };

export type Target =
  | (Base & { kind: 'Name'; name: string })
  | (Base & { kind: 'Tuple'; items: Target[] })
  | (Base & { kind: 'NSRef'; name: string; attr: string });

export interface MacroSignature {
  args: string[];
  defaults: Expr[];
}

export type Stmt =
  | (Base & { kind: 'Output'; nodes: (string | Expr)[] })
  | (Base & {
      kind: 'For';
      target: Target;
      iter: Expr;
      body: Stmt[];
      else_: Stmt[];
      test: Expr | null;
      recursive: boolean;
    })
  | IfStmt
  | (Base & MacroSignature & { kind: 'Macro'; name: string; body: Stmt[] })
  | (Base & MacroSignature & { kind: 'CallBlock'; call: Expr & { kind: 'Call' }; body: Stmt[] })
  | (Base & { kind: 'FilterBlock'; filter: FilterExpr; body: Stmt[] })
  | (Base & { kind: 'With'; targets: Target[]; values: Expr[]; body: Stmt[] })
  | (Base & { kind: 'Block'; name: string; body: Stmt[]; scoped: boolean; required: boolean })
  | (Base & { kind: 'Extends'; template: Expr })
  | (Base & { kind: 'Include'; template: Expr; withContext: boolean; ignoreMissing: boolean })
  | (Base & { kind: 'Import'; template: Expr; target: string; withContext: boolean })
  | (Base & { kind: 'FromImport'; template: Expr; names: [string, string][]; withContext: boolean })
  | (Base & { kind: 'Assign'; target: Target; node: Expr })
  | (Base & { kind: 'AssignBlock'; target: Target; body: Stmt[]; filter: FilterExpr | null })
  | (Base & { kind: 'ExprStmt'; node: Expr })
  | (Base & { kind: 'Break' | 'Continue' })
  | (Base & { kind: 'Autoescape'; value: Expr; body: Stmt[] });

export type IfStmt = Base & { kind: 'If'; test: Expr; body: Stmt[]; elif: IfStmt[]; else_: Stmt[] };

export interface TemplateAst {
  body: Stmt[];
}
