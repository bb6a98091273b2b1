//go:build !purego

#include "textflag.h"

// AES-128 key expansion and CBC with AES-NI. Round keys are 11 blocks of 16
// bytes: enc in encryption order; dec in decryption order for AESDEC, that
// is enc[10], InvMixColumns(enc[9]) ... InvMixColumns(enc[1]), enc[0].

// EXPAND turns the round key in X0 and the AESKEYGENASSIST result in X1
// into the next round key in X0: X0 ^= X0<<32 ^ X0<<64 ^ X0<<96, then
// X0 ^= broadcast(word 3 of X1). X3 is clobbered.
#define EXPAND \
	PSHUFD $0xff, X1, X1 \
	MOVO   X0, X3        \
	PSLLDQ $4, X3        \
	PXOR   X3, X0        \
	PSLLDQ $4, X3        \
	PXOR   X3, X0        \
	PSLLDQ $4, X3        \
	PXOR   X3, X0        \
	PXOR   X1, X0

// ROUND stores round key i (in X0) at enc+16i and its InvMixColumns at
// dec+16(10-i).
#define ROUND(rcon, i) \
	AESKEYGENASSIST $rcon, X0, X1 \
	EXPAND                        \
	MOVOU  X0, (16*i)(BX)         \
	AESIMC X0, X2                 \
	MOVOU  X2, (16*(10-i))(DX)

// func expandKey128(key *[16]byte, enc, dec *[176]byte)
TEXT ·expandKey128(SB), NOSPLIT, $0-24
	MOVQ  key+0(FP), AX
	MOVQ  enc+8(FP), BX
	MOVQ  dec+16(FP), DX
	MOVOU (AX), X0
	MOVOU X0, (BX)
	MOVOU X0, 160(DX)
	ROUND(0x01, 1)
	ROUND(0x02, 2)
	ROUND(0x04, 3)
	ROUND(0x08, 4)
	ROUND(0x10, 5)
	ROUND(0x20, 6)
	ROUND(0x40, 7)
	ROUND(0x80, 8)
	ROUND(0x1b, 9)
	AESKEYGENASSIST $0x36, X0, X1
	EXPAND
	MOVOU X0, 160(BX)
	MOVOU X0, (DX)
	PXOR  X0, X0
	PXOR  X1, X1
	PXOR  X2, X2
	PXOR  X3, X3
	RET

// func cbcEncrypt128(enc *[176]byte, iv *[16]byte, dst, src *byte, n int)
// Encrypts n blocks of src into dst (the same or not overlapping). CBC
// encryption is sequential: the round keys stay in registers and each
// block waits for the one before.
TEXT ·cbcEncrypt128(SB), NOSPLIT, $0-40
	MOVQ   enc+0(FP), AX
	MOVQ   iv+8(FP), BX
	MOVQ   dst+16(FP), DI
	MOVQ   src+24(FP), SI
	MOVQ   n+32(FP), CX
	MOVOU  (BX), X0
	MOVOU  (AX), X4
	MOVOU  16(AX), X5
	MOVOU  32(AX), X6
	MOVOU  48(AX), X7
	MOVOU  64(AX), X8
	MOVOU  80(AX), X9
	MOVOU  96(AX), X10
	MOVOU  112(AX), X11
	MOVOU  128(AX), X12
	MOVOU  144(AX), X13
	MOVOU  160(AX), X14
	TESTQ  CX, CX
	JZ     encdone

encloop:
	MOVOU      (SI), X1
	PXOR       X1, X0
	PXOR       X4, X0
	AESENC     X5, X0
	AESENC     X6, X0
	AESENC     X7, X0
	AESENC     X8, X0
	AESENC     X9, X0
	AESENC     X10, X0
	AESENC     X11, X0
	AESENC     X12, X0
	AESENC     X13, X0
	AESENCLAST X14, X0
	MOVOU      X0, (DI)
	ADDQ       $16, SI
	ADDQ       $16, DI
	DECQ       CX
	JNZ        encloop

encdone:
	PXOR X4, X4
	PXOR X5, X5
	PXOR X6, X6
	PXOR X7, X7
	PXOR X8, X8
	PXOR X9, X9
	PXOR X10, X10
	PXOR X11, X11
	PXOR X12, X12
	PXOR X13, X13
	PXOR X14, X14
	RET

// DEC8 applies decryption round key X8 to X0..X7.
#define DEC8 \
	AESDEC X8, X0 \
	AESDEC X8, X1 \
	AESDEC X8, X2 \
	AESDEC X8, X3 \
	AESDEC X8, X4 \
	AESDEC X8, X5 \
	AESDEC X8, X6 \
	AESDEC X8, X7

// func cbcDecrypt128(dec *[176]byte, iv *[16]byte, dst, src *byte, n int)
// Decrypts n blocks of src into dst (the same or not overlapping). CBC
// decryption is parallel: eight blocks go through the rounds together, and
// each group reads every ciphertext block it needs before it stores.
TEXT ·cbcDecrypt128(SB), NOSPLIT, $0-40
	MOVQ  dec+0(FP), AX
	MOVQ  iv+8(FP), BX
	MOVQ  dst+16(FP), DI
	MOVQ  src+24(FP), SI
	MOVQ  n+32(FP), CX
	MOVOU (BX), X10 // the ciphertext block before the next one
	CMPQ  CX, $8
	JB    dec1

dec8loop:
	MOVOU      (SI), X0
	MOVOU      16(SI), X1
	MOVOU      32(SI), X2
	MOVOU      48(SI), X3
	MOVOU      64(SI), X4
	MOVOU      80(SI), X5
	MOVOU      96(SI), X6
	MOVOU      112(SI), X7
	MOVOU      (AX), X8
	PXOR       X8, X0
	PXOR       X8, X1
	PXOR       X8, X2
	PXOR       X8, X3
	PXOR       X8, X4
	PXOR       X8, X5
	PXOR       X8, X6
	PXOR       X8, X7
	MOVOU      16(AX), X8
	DEC8
	MOVOU      32(AX), X8
	DEC8
	MOVOU      48(AX), X8
	DEC8
	MOVOU      64(AX), X8
	DEC8
	MOVOU      80(AX), X8
	DEC8
	MOVOU      96(AX), X8
	DEC8
	MOVOU      112(AX), X8
	DEC8
	MOVOU      128(AX), X8
	DEC8
	MOVOU      144(AX), X8
	DEC8
	MOVOU      160(AX), X8
	AESDECLAST X8, X0
	AESDECLAST X8, X1
	AESDECLAST X8, X2
	AESDECLAST X8, X3
	AESDECLAST X8, X4
	AESDECLAST X8, X5
	AESDECLAST X8, X6
	AESDECLAST X8, X7
	PXOR       X10, X0
	MOVOU      (SI), X8
	PXOR       X8, X1
	MOVOU      16(SI), X8
	PXOR       X8, X2
	MOVOU      32(SI), X8
	PXOR       X8, X3
	MOVOU      48(SI), X8
	PXOR       X8, X4
	MOVOU      64(SI), X8
	PXOR       X8, X5
	MOVOU      80(SI), X8
	PXOR       X8, X6
	MOVOU      96(SI), X8
	PXOR       X8, X7
	MOVOU      112(SI), X10
	MOVOU      X0, (DI)
	MOVOU      X1, 16(DI)
	MOVOU      X2, 32(DI)
	MOVOU      X3, 48(DI)
	MOVOU      X4, 64(DI)
	MOVOU      X5, 80(DI)
	MOVOU      X6, 96(DI)
	MOVOU      X7, 112(DI)
	ADDQ       $128, SI
	ADDQ       $128, DI
	SUBQ       $8, CX
	CMPQ       CX, $8
	JAE        dec8loop

dec1:
	TESTQ CX, CX
	JZ    decdone

dec1loop:
	MOVOU      (SI), X0
	MOVO       X0, X9
	MOVOU      (AX), X8
	PXOR       X8, X0
	MOVOU      16(AX), X8
	AESDEC     X8, X0
	MOVOU      32(AX), X8
	AESDEC     X8, X0
	MOVOU      48(AX), X8
	AESDEC     X8, X0
	MOVOU      64(AX), X8
	AESDEC     X8, X0
	MOVOU      80(AX), X8
	AESDEC     X8, X0
	MOVOU      96(AX), X8
	AESDEC     X8, X0
	MOVOU      112(AX), X8
	AESDEC     X8, X0
	MOVOU      128(AX), X8
	AESDEC     X8, X0
	MOVOU      144(AX), X8
	AESDEC     X8, X0
	MOVOU      160(AX), X8
	AESDECLAST X8, X0
	PXOR       X10, X0
	MOVO       X9, X10
	MOVOU      X0, (DI)
	ADDQ       $16, SI
	ADDQ       $16, DI
	DECQ       CX
	JNZ        dec1loop

decdone:
	PXOR X0, X0
	PXOR X1, X1
	PXOR X2, X2
	PXOR X3, X3
	PXOR X4, X4
	PXOR X5, X5
	PXOR X6, X6
	PXOR X7, X7
	PXOR X8, X8
	PXOR X9, X9
	PXOR X10, X10
	RET
