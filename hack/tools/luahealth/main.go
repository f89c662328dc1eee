// Command luahealth runs an Argo CD resource health script (health.lua) the way Argo CD does:
// in gopher-lua, the Lua VM Argo CD embeds, with the object bound to the global `obj` and only
// the libraries Argo CD opens for health scripts. It prints the result as one JSON line:
//
//	luahealth SCRIPT.lua OBJECT.json   (OBJECT.json may be "-" for stdin)
//	{"status":"Healthy","message":"..."}
//
// Exit status 0 when the script returned a valid health status, 1 otherwise (the error is on stderr),
// so a broken script fails the tests instead of being read as "no health".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The statuses Argo CD accepts from a health script (gitops-engine health.HealthStatusCode).
var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: luahealth SCRIPT.lua OBJECT.json|-")
		os.Exit(2)
	}
	status, message, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "luahealth:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]string{"status": status, "message": message})
	fmt.Println(string(out))
}

func run(scriptPath, objectPath string) (string, string, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return "", "", err
	}
	var raw []byte
	if objectPath == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(objectPath)
	}
	if err != nil {
		return "", "", err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", fmt.Errorf("%s: not a JSON object: %w", objectPath, err)
	}

	// Argo CD skips the full standard library (no io/os) and opens only these.
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	// Argo CD bounds a script's run time; a script that loops must fail, not hang the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		return "", "", fmt.Errorf("%s: %w", scriptPath, err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("%s: the script must return a table {status=..., message=...}, got %s", scriptPath, l.Get(-1).Type())
	}
	status := lua.LVAsString(ret.RawGetString("status"))
	if !validStatus[status] {
		return "", "", fmt.Errorf("%s: returned status %q, which Argo CD does not accept", scriptPath, status)
	}
	return status, lua.LVAsString(ret.RawGetString("message")), nil
}

// toLua converts decoded JSON into Lua values: objects and arrays become tables (arrays 1-based,
// as Argo CD's decoder makes them), null becomes nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	default:
		panic(fmt.Sprintf("unexpected JSON value %T", v))
	}
}
