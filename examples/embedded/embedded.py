"""The README's "Embedded use from Python" example, as it is printed there: a runtime in this
program, one machine, an event, and the machine's statistics once it has completed.

Run it from this folder: ``python embedded.py``.
"""

import trio

from statemachine_engine import load_config, open_runtime


async def main():
    async with open_runtime() as rt:
        worker = await rt.spawn(load_config("config/worker.yaml"), name="worker")
        await worker.send("new_job", {"id": 7})
        await worker.wait_state("completed")
        print(worker.statistics())


trio.run(main)
