package mesh

import (
	"sort"
	"time"
)

// SettleTime is how long a data file without its control file must go
// unmodified, by the real clock, before it is taken: until then the LA may
// still be writing it.
const SettleTime = 10 * time.Second

// Settled reports whether a file last modified at modTime has settled at
// realNow: modTime is at least SettleTime before realNow.
func Settled(modTime, realNow time.Time) bool {
	return !modTime.After(realNow.Add(-SettleTime))
}

// FolderFile is a regular file of a mailbox folder, local or remote, as the
// pairing rule sees it.
type FolderFile struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Message is the data files of a folder that pair with one control file
// name (ControlName), with that control file when it is there. More than
// one data file is a pairing problem: they share one control file.
type Message struct {
	Data    []FolderFile // sorted by name; never empty
	Control *FolderFile  // nil when the control file is not there
}

// Ready reports whether m may be taken at realNow (the real clock,
// whatever --now says): its control file is there, or every data file has
// settled.
func (m Message) Ready(realNow time.Time) bool {
	if m.Control != nil {
		return true
	}
	for _, d := range m.Data {
		if !Settled(d.ModTime, realNow) {
			return false
		}
	}
	return true
}

// Pair pairs the files of a mailbox folder (work in progress, folders and
// links already left out) into messages, in the order of their first data
// file's name, and returns the control files that pair with no data file
// (lone), sorted by name.
//
// A data file pairs with the control file ControlName names, its .ctl
// extension in any case (X.CTL pairs with X.csv as X.ctl does). When
// several cases are there, the exact name wins, else the first by name;
// the others are neither in a message nor lone while the data file is
// there.
func Pair(files []FolderFile) (msgs []Message, lone []FolderFile) {
	sorted := append([]FolderFile(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	ctls := map[string][]FolderFile{} // by ctlKey, sorted by name
	var data []FolderFile
	for _, f := range sorted {
		if IsControlName(f.Name) {
			k := ctlKey(f.Name)
			ctls[k] = append(ctls[k], f)
		} else {
			data = append(data, f)
		}
	}
	index := map[string]int{} // ctlKey -> index in msgs
	for _, d := range data {
		k := ControlName(d.Name) // ControlName's ".ctl" is lower case: its own key
		i, ok := index[k]
		if !ok {
			i = len(msgs)
			index[k] = i
			msgs = append(msgs, Message{Control: findControl(ctls[k], k)})
		}
		msgs[i].Data = append(msgs[i].Data, d)
	}
	for _, f := range sorted {
		if IsControlName(f.Name) {
			if _, paired := index[ctlKey(f.Name)]; !paired {
				lone = append(lone, f)
			}
		}
	}
	return msgs, lone
}

// ctlKey is a control file's name with its extension lower-cased.
func ctlKey(name string) string {
	return name[:len(name)-len(ControlExt)] + ControlExt
}

// findControl returns the control file of cs named name, or else the
// first of cs; nil when cs is empty.
func findControl(cs []FolderFile, name string) *FolderFile {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}
