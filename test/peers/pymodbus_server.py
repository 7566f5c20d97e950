#!/usr/bin/python3
"""An independent Modbus peer for the tests: pymodbus (Debian python3-pymodbus 3.0) serving fixed,
hand-built register images of a SunSpec inverter and two Eastron SDM630 meters, over Modbus TCP or RTU
on a serial device. The images are encoded here with struct, not by the code under test.

Known values (what a correct reader must see) are listed in EXPECTED and printed as JSON on the
first stdout line, after "READY ", once the server is listening.

usage: pymodbus_server.py (--tcp PORT | --serial PATH) [--base 0|40000|50000]
"""

import argparse
import asyncio
import json
import logging
import struct
import sys

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer

INVERTER_UNIT = 1
METER_UNIT = 2
METER2_UNIT = 3

EXPECTED = {
    "inverter": {
        "pvPowerW": 1234.5,  # W = 12345, W_SF = -1
        "pvEnergyWh": 12345670,  # WH = 1234567, WH_SF = 1
        "manufacturer": "PeerSolar",
        "model": "PS-3P-8K",
        "version": "2.7.1",
        "serial": "PS0042",
        "phaseVoltageV": 230.1,  # PhVphA = 2301, V_SF = -1
        "frequencyHz": 50.02,  # Hz = 5002, Hz_SF = -2
        "wMaxLimPct": 100.0,  # WMaxLimPct = 1000, WMaxLimPct_SF = -1
    },
    "meter": {
        "gridVoltageV": 231.5,
        "gridPowerW": -1500.5,
        "gridFrequencyHz": 49.98,  # not exact in float32: compare with Math.fround
        "gridImportWh": 12345500,  # 12345.5 kWh
        "gridExportWh": 6789250,  # 6789.25 kWh
        "serial": 19112233,
    },
    "meter2": {
        "gridVoltageV": 240.5,
        "gridPowerW": 2345.75,
        "gridFrequencyHz": 50.25,
        "gridImportWh": 1111250,
        "gridExportWh": 2222500,
        "serial": 20240607,
    },
}

NOT_IMPL_S16 = 0x8000


def u16(v):
    return [v & 0xFFFF]


def s16(v):
    return [struct.unpack(">H", struct.pack(">h", v))[0]]


def u32(v):
    hi, lo = struct.unpack(">HH", struct.pack(">I", v))
    return [hi, lo]


def f32(v):
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


def text(s, registers):
    raw = s.encode("ascii").ljust(registers * 2, b"\0")
    return list(struct.unpack(">%dH" % registers, raw))


def model(model_id, body):
    return [model_id, len(body)] + body


def sunspec_image(unit):
    common = (
        text("PeerSolar", 16)
        + text("PS-3P-8K", 16)
        + text("", 8)
        + text("2.7.1", 8)
        + text("PS0042", 16)
        + u16(unit)
        + [NOT_IMPL_S16]  # Pad
    )
    inverter = (
        u16(2350) + u16(785) + u16(780) + u16(785) + s16(-2)  # A, AphA..C, A_SF
        + u16(3985) + u16(3990) + u16(3987)  # PPVphAB..CA
        + u16(2301) + u16(2297) + u16(2310) + s16(-1)  # PhVphA..C, V_SF
        + s16(12345) + s16(-1)  # W, W_SF
        + u16(5002) + s16(-2)  # Hz, Hz_SF
        + s16(12400) + s16(-1)  # VA, VA_SF
        + [NOT_IMPL_S16, NOT_IMPL_S16]  # VAr, VAr_SF: not implemented
        + s16(995) + s16(-1)  # PF, PF_SF
        + u32(1234567) + s16(1)  # WH, WH_SF
        + u16(320) + s16(-1)  # DCA, DCA_SF
        + u16(6100) + s16(-1)  # DCV, DCV_SF
        + s16(1290) + s16(0)  # DCW, DCW_SF
        + s16(415) + s16(452) + [NOT_IMPL_S16, NOT_IMPL_S16] + s16(-1)  # TmpCab, TmpSnk, TmpTrns, TmpOt, Tmp_SF
        + u16(4) + u16(0)  # St (MPPT), StVnd
        + u32(0) + u32(0) + u32(0) + u32(0) + u32(0) + u32(0)  # Evt1, Evt2, EvtVnd1..4
    )
    controls = (
        u16(0) + u16(0) + u16(1)  # Conn_WinTms, Conn_RvrtTms, Conn
        + u16(1000) + u16(0) + u16(0) + u16(0) + u16(0)  # WMaxLimPct, _WinTms, _RvrtTms, _RmpTms, WMaxLim_Ena
        + [NOT_IMPL_S16] + u16(0) + u16(0) + u16(0) + u16(0)  # OutPFSet, _WinTms, _RvrtTms, _RmpTms, _Ena
        + [NOT_IMPL_S16] * 3 + u16(0) * 3 + u16(0) + u16(0)  # VAr*Pct, VArPct_WinTms.. _Mod, _Ena
        + s16(-1) + [NOT_IMPL_S16, NOT_IMPL_S16]  # WMaxLimPct_SF, OutPFSet_SF, VArPct_SF
    )
    assert len(common) == 66 and len(inverter) == 50 and len(controls) == 24
    return text("SunS", 2) + model(1, common) + model(103, inverter) + model(123, controls) + [0xFFFF, 0]


def sdm630_input(values):
    regs = [0] * 0x50
    layout = {
        0x0000: values["gridVoltageV"],
        0x0002: values["gridVoltageV"] - 1.25,
        0x0004: values["gridVoltageV"] - 1.75,
        0x0006: 6.5,
        0x000C: values["gridPowerW"] / 3,
        0x0034: values["gridPowerW"],
        0x0046: values["gridFrequencyHz"],
        0x0048: values["gridImportWh"] / 1000,
        0x004A: values["gridExportWh"] / 1000,
    }
    for address, value in layout.items():
        regs[address : address + 2] = f32(value)
    return regs


def nothing():
    # A one-register table far from anything read, so other addresses raise "illegal data address".
    return ModbusSequentialDataBlock(0xFFFE, [0])


def context(base):
    inverter = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(base, sunspec_image(INVERTER_UNIT)),
        ir=nothing(), co=nothing(), di=nothing(), zero_mode=True,
    )
    meters = {}
    for unit, key in ((METER_UNIT, "meter"), (METER2_UNIT, "meter2")):
        meters[unit] = ModbusSlaveContext(
            ir=ModbusSequentialDataBlock(0, sdm630_input(EXPECTED[key])),
            hr=ModbusSequentialDataBlock(0xFC00, u32(EXPECTED[key]["serial"])),
            co=nothing(), di=nothing(), zero_mode=True,
        )
    return ModbusServerContext(slaves={INVERTER_UNIT: inverter, **meters}, single=False)


async def main():
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int)
    where.add_argument("--serial")
    parser.add_argument("--base", type=int, default=40000, choices=[0, 40000, 50000])
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)

    ctx = context(args.base)
    if args.tcp is not None:
        server = ModbusTcpServer(ctx, framer=ModbusSocketFramer, address=("127.0.0.1", args.tcp), allow_reuse_address=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
    else:
        server = ModbusSerialServer(ctx, framer=ModbusRtuFramer, port=args.serial, baudrate=9600)
        await server.start()
        task = asyncio.create_task(server.serve_forever())
    print("READY " + json.dumps({**EXPECTED, "base": args.base}), flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main())
