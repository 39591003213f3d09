<#
Install emotion-overlay for this user on Windows 10/11. Written carefully but NOT run by the
project's CI (Linux only); see README "Windows" for what was and was not tested.

    powershell -ExecutionPolicy Bypass -File installer\windows\install.ps1 [-DryRun] [-Service] [-Uninstall]

Steps:
  1. winget: Python 3.11 and OBS Studio (its virtual camera is what pyvirtualcam uses on Windows;
     OBS 26+ installs it, no need to start OBS). PortAudio and ffmpeg come inside the Python wheels.
  2. the app from this checkout into %LOCALAPPDATA%\emotion-overlay\venv; dlib's landmark
     model via `emotion-overlay models pull dlib-landmarks-68`; and, unless it is there already,
     Whisper's tiny.en for captions (`emotion-overlay models pull whisper-tiny.en`: 78 MB, MIT,
     checked against pinned sha256s). A failed Whisper download only warns: captions then
     come from PocketSphinx.
  3. with -Service: a Task Scheduler task "emotion-overlay" that runs `emotion-overlay run` at
     logon, restarted up to 5 times a minute apart if it fails.
-Uninstall removes the task and the environment (sessions and settings stay).
#>
param([switch]$DryRun, [switch]$Service, [switch]$Uninstall)
$ErrorActionPreference = "Stop"
$Source = (Resolve-Path "$PSScriptRoot\..\..").Path
$AppHome = Join-Path $env:LOCALAPPDATA "emotion-overlay"
$Venv = Join-Path $AppHome "venv"
$Exe = Join-Path $Venv "Scripts\emotion-overlay.exe"
$TaskName = "emotion-overlay"

function Step([string]$Description, [scriptblock]$Action) {
    Write-Host "+ $Description"
    if (-not $DryRun) { & $Action }
}

if ($Uninstall) {
    Step "Unregister-ScheduledTask $TaskName" { Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false -ErrorAction SilentlyContinue }
    Step "Remove-Item $Venv" { Remove-Item -Recurse -Force $Venv -ErrorAction SilentlyContinue }
    Write-Host "install.ps1: removed (sessions and settings stay in $AppHome)"
    exit 0
}

if (-not (Get-Command winget -ErrorAction SilentlyContinue) -and -not $DryRun) {
    Write-Error "install.ps1: needs winget (App Installer from the Microsoft Store), or install Python 3.11 and OBS Studio yourself and run this again"
}
Step "winget install Python.Python.3.11" { winget install --silent --accept-package-agreements --accept-source-agreements -e --id Python.Python.3.11 }
Step "winget install OBSProject.OBSStudio" { winget install --silent --accept-package-agreements --accept-source-agreements -e --id OBSProject.OBSStudio }
Step "py -3.11 -m venv $Venv" { py -3.11 -m venv $Venv }
Step "pip install $Source" { & (Join-Path $Venv "Scripts\python.exe") -m pip install -q $Source }
Step "emotion-overlay models pull dlib-landmarks-68" { & $Exe models pull dlib-landmarks-68 }
Step "emotion-overlay models pull whisper-tiny.en (unless installed; a failure only warns)" {
    # Native commands' stderr must not stop the script here (Windows PowerShell 5.1 makes it an error).
    $ErrorActionPreference = "Continue"
    & $Exe models verify whisper-tiny.en *> $null
    if ($LASTEXITCODE -eq 0) { Write-Host "install.ps1: whisper-tiny.en is installed already"; return }
    $said = & $Exe models pull whisper-tiny.en 2>&1 | ForEach-Object { "$_" }
    if ($LASTEXITCODE -eq 0) { Write-Host "install.ps1: whisper-tiny.en installed"; return }
    $problem = ($said | Where-Object { $_.Trim() } | Select-Object -Last 1) -creplace '^.*?error: ', ''
    Write-Warning "install.ps1: whisper-tiny.en was not installed, so captions use PocketSphinx: $problem"
}
if ($Service) {
    Step "Register-ScheduledTask $TaskName (at logon, restart on failure)" {
        $action = New-ScheduledTaskAction -Execute $Exe -Argument "run"
        $trigger = New-ScheduledTaskTrigger -AtLogOn -User $env:USERNAME
        $settings = New-ScheduledTaskSettingsSet -RestartCount 5 -RestartInterval (New-TimeSpan -Minutes 1) `
            -ExecutionTimeLimit (New-TimeSpan -Seconds 0) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
        Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -Force | Out-Null
    }
}
Step "emotion-overlay doctor" { & $Exe doctor }
Write-Host "install.ps1: done. Start it with: $Exe start   (then pick `"OBS Virtual Camera`" in Zoom, Meet or Teams)"
