// Package osprofile is the one table of the operating systems ksgen renders
// for: per OS, what boots its payload and where things live on it. Adding
// an OS is one entry here plus the switches the compiler flags; nothing else
// compares OS names.
//
// A shared table: any stage may import it; it imports only other tables.
package osprofile
