package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// TestFunctionDocsStartWithAOneLineSentence parses the module's sources: every function
// the module exposes (exported methods of TransactionValidator, and New, whose doc is the
// module's constructor's) needs a doc comment whose first line is a whole sentence. The
// Dagger CLI shows that line as the function's description in `dagger functions` and
// cuts what follows, so a sentence wrapped onto the next line reads as cut off there.
func TestFunctionDocsStartWithAOneLineSentence(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "dagger.gen.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() || !exposed(fn) {
				continue
			}
			checked++
			pos := fset.Position(fn.Pos())
			if fn.Doc == nil {
				t.Errorf("%s:%d: %s has no doc comment", pos.Filename, pos.Line, fn.Name.Name)
				continue
			}
			first, _, _ := strings.Cut(fn.Doc.Text(), "\n")
			if err := oneLineSentence(fn.Name.Name, first); err != "" {
				t.Errorf("%s:%d: %s's doc comment: %s: %q", pos.Filename, pos.Line, fn.Name.Name, err, first)
			}
		}
	}
	if checked < 15 {
		t.Errorf("checked only %d functions", checked)
	}
}

// exposed reports whether fn is a function of the module: a method of TransactionValidator
// or the constructor.
func exposed(fn *ast.FuncDecl) bool {
	if fn.Recv == nil {
		return fn.Name.Name == "New"
	}
	star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "TransactionValidator"
}

// oneLineSentence says what keeps line from being a sentence that stands on its own, or "".
func oneLineSentence(name, line string) string {
	switch {
	case !strings.HasPrefix(line, name+" "):
		return "does not start with the function's name"
	case !strings.HasSuffix(line, "."):
		return "first line does not end with a period"
	case strings.HasSuffix(line, "e.g.") || strings.HasSuffix(line, "i.e.") || strings.HasSuffix(line, "etc."):
		return "first line ends in an abbreviation, not a sentence"
	}
	// Brackets and quotes opened on the line close on it.
	depth := 0
	for _, r := range line {
		switch r {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		}
	}
	if depth != 0 || strings.Count(line, "`")%2 != 0 || strings.Count(line, `"`)%2 != 0 {
		return "brackets or quotes left open at the end of the first line"
	}
	if words := strings.Fields(line); len(words) < 3 || !unicode.IsLower([]rune(words[1])[0]) {
		return "first line is not a sentence"
	}
	return ""
}
