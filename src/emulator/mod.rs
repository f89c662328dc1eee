//! Partner Center + Entra ID emulator (the only stand-in in tests and the demo).
