// Package codegentest proves that the OpenAPI document httpadapter serves makes a working Go
// client with oapi-codegen, the most used Go generator, run with no option beyond the package
// name and the client: the client in package client is generated from it by
//
//	go generate ./...
//
// and the tests check that it is current (the generator makes it again, byte for byte), that
// it has one Go type per enum and a plain value for every required member, and that it drives
// sign-up, sign-in, the current user, the user list, an update, a forgotten password and a
// deletion against the adapter over the in-memory store.
//
// It is a module of its own, so that the users module does not depend on the generator; the
// replace directive of its go.mod builds it on the users module of this repository. It has no
// API: it is its tests.
package codegentest

//go:generate go tool oapi-codegen -package client -generate types,client -o client/client.gen.go ../../httpadapter/openapi.json
