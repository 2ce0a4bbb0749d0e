package transform

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// TestAppendSCIMUserCoversEveryField fills every field of a User, and of every struct it
// holds, by reflection, each with a value of its own, and holds the hand-written encoder to
// segmentio's bytes. A field added to schemas.User and not to the encoder would otherwise be
// dropped from every output without a word.
func TestAppendSCIMUserCoversEveryField(t *testing.T) {
	u := new(schemas.User)
	n := 0
	fillAll(reflect.ValueOf(u).Elem(), &n)
	if n < 60 {
		t.Fatalf("filled only %d fields: the filler misses some kinds", n)
	}
	checkSCIMParity(t, u)
}

// fillAll sets every settable field under v to a distinct non-zero value; n counts them.
func fillAll(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), n)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			*n++
			v.SetBytes([]byte(`{"f` + strconv.Itoa(*n) + `":[1,"<&>"]}`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fillAll(v.Index(i), n)
		}
	case reflect.String:
		*n++
		v.SetString("v" + strconv.Itoa(*n) + " <&>")
	case reflect.Bool:
		*n++
		v.SetBool(true)
	default:
		panic("fillAll: no value for a " + v.Kind().String())
	}
}
