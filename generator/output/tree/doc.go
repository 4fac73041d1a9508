// Package tree is the only code that writes ksgen's output to disk. A tree is
// streamed into a temporary directory beside the target and swapped into
// place, so a failed render leaves the previous output intact and a render's
// memory does not grow with the size of its output.
//
// Stage: output. It takes rendered and encoded nodes and gives files on disk;
// it must not import delivery.
package tree
