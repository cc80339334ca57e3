package expr

import (
	"math"
	"testing"
)

func TestValueText(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"null", Value{}, ""},
		{"string", StringValue("a b"), "a b"},
		{"int", IntValue(-42), "-42"},
		{"bool true", BoolValue(true), "true"},
		{"bool false", BoolValue(false), "false"},
		// Floats as Java's Double.toString prints them.
		{"whole float", FloatValue(1), "1.0"},
		{"fraction", FloatValue(0.5), "0.5"},
		{"negative zero", FloatValue(math.Copysign(0, -1)), "-0.0"},
		{"below 1e7", FloatValue(1234567), "1234567.0"},
		{"1e7", FloatValue(1e7), "1.0E7"},
		{"large", FloatValue(1.5e20), "1.5E20"},
		{"0.001", FloatValue(0.001), "0.001"},
		{"small", FloatValue(1.5e-5), "1.5E-5"},
		{"NaN", FloatValue(math.NaN()), "NaN"},
		{"infinity", FloatValue(math.Inf(1)), "Infinity"},
		{"minus infinity", FloatValue(math.Inf(-1)), "-Infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.v.Append([]byte("x"))); got != "x"+tt.want {
				t.Errorf("Append: got %q, want %q", got, "x"+tt.want)
			}
			if got := tt.v.String(); got != tt.want {
				t.Errorf("String: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValueAccessors(t *testing.T) {
	tests := []struct {
		name  string
		v     Value
		kind  Kind
		str   string
		n     int64
		f     float64
		b     bool
		null  bool
		kname string
	}{
		{"null", Value{}, KindNull, "", 0, 0, false, true, "null"},
		{"string", StringValue("s"), KindString, "s", 0, 0, false, false, "string"},
		{"int", IntValue(7), KindInt, "", 7, 0, false, false, "int"},
		{"float", FloatValue(2.5), KindFloat, "", 0, 2.5, false, false, "float"},
		{"bool", BoolValue(true), KindBool, "", 0, 0, true, false, "bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v.Kind() != tt.kind || v.Str() != tt.str || v.Int() != tt.n || v.Float() != tt.f ||
				v.Bool() != tt.b || v.IsNull() != tt.null || v.Kind().String() != tt.kname {
				t.Errorf("got kind %v str %q int %d float %v bool %v null %v, want %v %q %d %v %v %v",
					v.Kind(), v.Str(), v.Int(), v.Float(), v.Bool(), v.IsNull(), tt.kind, tt.str, tt.n, tt.f, tt.b, tt.null)
			}
		})
	}
	if got := Kind(9).String(); got != "Kind(9)" {
		t.Errorf("Kind(9).String(): got %q, want Kind(9)", got)
	}
}

func TestCompare(t *testing.T) {
	nan := FloatValue(math.NaN())
	tests := []struct {
		name string
		a, b Value
		want int
	}{
		{"ints", IntValue(2), IntValue(10), -1},
		{"int and float", IntValue(2), FloatValue(2.0), 0},
		{"int and string compare as text", IntValue(10), StringValue("9"), -1},
		{"string and int", StringValue("10"), IntValue(10), 0},
		{"bool and int", BoolValue(true), IntValue(1), 0},
		{"bool and string", BoolValue(false), StringValue("false"), 0},
		{"bools", BoolValue(false), BoolValue(true), -1},
		{"float and string", FloatValue(1), StringValue("1.0"), 0},
		{"NaN equals NaN", nan, nan, 0},
		{"NaN above numbers", nan, FloatValue(math.Inf(1)), 1},
		{"numbers below NaN", IntValue(1), nan, -1},
		{"strings", StringValue("a"), StringValue("b"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compare(tt.a, tt.b); got != tt.want {
				t.Errorf("compare(%v, %v): got %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
