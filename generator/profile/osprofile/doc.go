// Package osprofile is the one table of the operating systems ksgen renders
// for: per OS, the payload it boots, where things live on it and what its
// stock image already ships. Adding an OS is one entry here plus the
// switches the compiler flags; nothing else compares OS names.
//
// A shared table: any stage may import it; it imports only other tables.
package osprofile
