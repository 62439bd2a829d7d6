package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/coolkey-go/coolkey-go/pkcs11mod"
	"github.com/miekg/pkcs11"
)

const defaultTarget = "/usr/lib/softhsm/libsofthsm2.so"

// backend forwards to the target module through miekg/pkcs11. It is
// deliberately literal: every pkcs11mod call becomes the corresponding call
// on the target, so that what a client sees through pkcs11mod can be
// compared with what it sees from the target directly.
type backend struct {
	ctx *pkcs11.Ctx
}

func newBackend() pkcs11mod.Backend { return withEvents(&backend{}) }

// ckr turns a miekg error into the pkcs11mod error with the same CKR code.
func ckr(err error) error {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return pkcs11mod.Error(e)
	}
	return err
}

func (b *backend) Initialize(opts pkcs11mod.InitOptions) error {
	target := os.Getenv("PASSTHROUGH_TARGET")
	if target == "" {
		target = defaultTarget
	}
	ctx := pkcs11.New(target)
	if ctx == nil {
		opts.Logger.Error("cannot load target module", "path", target)
		return fmt.Errorf("loading %s: %w", target, pkcs11mod.CKR_GENERAL_ERROR)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		return ckr(err)
	}
	b.ctx = ctx
	return nil
}

func (b *backend) Finalize() error {
	err := b.ctx.Finalize()
	b.ctx.Destroy()
	return ckr(err)
}

func (b *backend) Info() pkcs11mod.LibraryInfo {
	info, err := b.ctx.GetInfo()
	if err != nil {
		return pkcs11mod.LibraryInfo{}
	}
	return pkcs11mod.LibraryInfo{
		Manufacturer:   info.ManufacturerID,
		Description:    info.LibraryDescription,
		LibraryVersion: pkcs11mod.Version{Major: info.LibraryVersion.Major, Minor: info.LibraryVersion.Minor},
	}
}

func (b *backend) Slots() ([]pkcs11mod.SlotID, error) {
	ids, err := b.ctx.GetSlotList(false)
	if err != nil {
		return nil, ckr(err)
	}
	slots := make([]pkcs11mod.SlotID, len(ids))
	for i, id := range ids {
		slots[i] = pkcs11mod.SlotID(id)
	}
	return slots, nil
}

func version(v pkcs11.Version) pkcs11mod.Version {
	return pkcs11mod.Version{Major: v.Major, Minor: v.Minor}
}

func (b *backend) SlotInfo(slot pkcs11mod.SlotID) (pkcs11mod.SlotInfo, error) {
	si, err := b.ctx.GetSlotInfo(uint(slot))
	if err != nil {
		return pkcs11mod.SlotInfo{}, ckr(err)
	}
	return pkcs11mod.SlotInfo{
		Description:     si.SlotDescription,
		Manufacturer:    si.ManufacturerID,
		Flags:           si.Flags,
		HardwareVersion: version(si.HardwareVersion),
		FirmwareVersion: version(si.FirmwareVersion),
	}, nil
}

func (b *backend) TokenInfo(slot pkcs11mod.SlotID) (pkcs11mod.TokenInfo, error) {
	ti, err := b.ctx.GetTokenInfo(uint(slot))
	if err != nil {
		return pkcs11mod.TokenInfo{}, ckr(err)
	}
	return pkcs11mod.TokenInfo{
		Label:              ti.Label,
		Manufacturer:       ti.ManufacturerID,
		Model:              ti.Model,
		SerialNumber:       ti.SerialNumber,
		Flags:              ti.Flags,
		MaxSessionCount:    ti.MaxSessionCount,
		SessionCount:       ti.SessionCount,
		MaxRwSessionCount:  ti.MaxRwSessionCount,
		RwSessionCount:     ti.RwSessionCount,
		MaxPinLen:          ti.MaxPinLen,
		MinPinLen:          ti.MinPinLen,
		TotalPublicMemory:  ti.TotalPublicMemory,
		FreePublicMemory:   ti.FreePublicMemory,
		TotalPrivateMemory: ti.TotalPrivateMemory,
		FreePrivateMemory:  ti.FreePrivateMemory,
		HardwareVersion:    version(ti.HardwareVersion),
		FirmwareVersion:    version(ti.FirmwareVersion),
		UTCTime:            ti.UTCTime,
	}, nil
}

func (b *backend) Mechanisms(slot pkcs11mod.SlotID) ([]pkcs11mod.MechanismType, error) {
	ms, err := b.ctx.GetMechanismList(uint(slot))
	if err != nil {
		return nil, ckr(err)
	}
	out := make([]pkcs11mod.MechanismType, len(ms))
	for i, m := range ms {
		out[i] = pkcs11mod.MechanismType(m.Mechanism)
	}
	return out, nil
}

func (b *backend) MechanismInfo(slot pkcs11mod.SlotID, mech pkcs11mod.MechanismType) (pkcs11mod.MechanismInfo, error) {
	mi, err := b.ctx.GetMechanismInfo(uint(slot), []*pkcs11.Mechanism{pkcs11.NewMechanism(uint(mech), nil)})
	if err != nil {
		return pkcs11mod.MechanismInfo{}, ckr(err)
	}
	return pkcs11mod.MechanismInfo{MinKeySize: mi.MinKeySize, MaxKeySize: mi.MaxKeySize, Flags: mi.Flags}, nil
}

func (b *backend) OpenSession(slot pkcs11mod.SlotID, rw bool) (pkcs11mod.Session, error) {
	flags := uint(pkcs11.CKF_SERIAL_SESSION)
	if rw {
		flags |= pkcs11.CKF_RW_SESSION
	}
	sh, err := b.ctx.OpenSession(uint(slot), flags)
	if err != nil {
		return nil, ckr(err)
	}
	return &session{ctx: b.ctx, sh: sh}, nil
}

func (b *backend) InitToken(slot pkcs11mod.SlotID, soPIN []byte, label string) error {
	return ckr(b.ctx.InitToken(uint(slot), string(soPIN), label))
}
